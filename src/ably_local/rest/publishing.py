"""Publishing over REST to one channel: `POST /channels/{name}/messages` and each channel of a batch publish.

A message may carry the `connectionKey` of a realtime connection of the same app: the publish is then
made on that connection's behalf (its connectionId, and its clientId when the request has none), as Ably's
"publish on behalf of a realtime connection" does; an unknown key is refused with 40006. Messages with
client-supplied ids are published once per idempotency window (`RealtimeService.publish_once`).
"""

import secrets
from typing import Any

from ably_local.auth import Credentials
from ably_local.errors import AblyError, bad_request
from ably_local.realtime import RealtimeService
from ably_local.rest.wire import require


def publish_over_rest(
    service: RealtimeService, name: str, raw: list[dict[str, Any]], credentials: Credentials
) -> dict[str, Any]:
    """Publish checked messages; the answer is Ably's publish result (channel, messageId, serials)."""
    require(credentials, "publish", name)
    connection_id, msg_serial, client_id = _publisher(service, raw, credentials)
    items = service.messaging.checked_messages(raw, credentials, name)
    published = service.messaging.publish_once(name, items, connection_id, msg_serial, client_id)
    return {"channel": name, "messageId": published.message_id, "serials": list(published.serials)}


def _publisher(
    service: RealtimeService, raw: list[dict[str, Any]], credentials: Credentials
) -> tuple[str, int | str, str | None]:
    """The connectionId, msgSerial and default clientId the messages are published with; on behalf of a
    connection, the serial is one its own publishes (numbered from 0) never use."""
    own = credentials.own_client_id
    named: set[str] = set()
    unnamed = False
    for item in raw:
        key = item.get("connectionKey")
        if key is None:
            unnamed = True
        elif isinstance(key, str):
            named.add(key)
        else:
            raise bad_request("A message's connectionKey must be a string")
    if not named:
        return f"rest-{secrets.token_hex(4)}", 0, own
    if unnamed or len(named) > 1:
        raise AblyError(40006, 400, "Messages published together must name the same connectionKey")
    [key] = named
    connection = service.by_key.get(key)
    if connection is None:
        raise AblyError(40006, 400, "Invalid connectionKey: no such connection in this app")
    return connection.id, f"rest-{secrets.token_hex(4)}", own or connection.credentials.own_client_id
