"""Publishing over REST to one channel: `POST /channels/{name}/messages` and each channel of a batch publish.

A message may carry the `connectionKey` of a realtime connection of the same app: the publish is then
made on that connection's behalf (its connectionId, and its clientId when the request has none), as Ably's
"publish on behalf of a realtime connection" does; an unknown key is refused with 40006. Messages with
client-supplied ids are published once per idempotency window (`RealtimeService.publish_once`).
"""

import secrets
from typing import Any

from ably_local.auth import WILDCARD_CLIENT_ID, Credentials
from ably_local.errors import AblyError
from ably_local.realtime import RealtimeService
from ably_local.rest.wire import require


def publish_over_rest(
    service: RealtimeService, name: str, raw: list[dict[str, Any]], credentials: Credentials
) -> dict[str, Any]:
    """Publish checked messages; the answer is Ably's publish result (channel, messageId, serials)."""
    require(credentials, "publish", name)
    connection_id, msg_serial, client_id = _publisher(service, raw, credentials)
    items = service.checked_messages(raw, credentials)
    published = service.publish_once(name, items, connection_id, msg_serial, client_id)
    return {"channel": name, "messageId": published.message_id, "serials": [published.serial] * len(items)}


def _publisher(
    service: RealtimeService, raw: list[dict[str, Any]], credentials: Credentials
) -> tuple[str, int | str, str | None]:
    """The connectionId, msgSerial and default clientId the messages are published with; on behalf of a
    connection, the serial is one its own publishes (numbered from 0) never use."""
    own = credentials.client_id if credentials.client_id != WILDCARD_CLIENT_ID else None
    keys = {item.get("connectionKey") for item in raw}
    if keys == {None}:
        return f"rest-{secrets.token_hex(4)}", 0, own
    if len(keys) > 1:
        raise AblyError(40006, 400, "Messages published together must name the same connectionKey")
    [key] = keys
    connection = service.by_key.get(key) if isinstance(key, str) else None
    if connection is None:
        raise AblyError(40006, 400, "Invalid connectionKey: no such connection in this app")
    connection_client_id = connection.client_id if connection.client_id != WILDCARD_CLIENT_ID else None
    return connection.id, f"rest-{secrets.token_hex(4)}", own or connection_client_id
