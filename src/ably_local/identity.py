"""The one identity rule for everything a client names a clientId in: messages, presence members, the
versions of changed messages and annotations.

A clientId must be a non-empty string other than the wildcard, and one the credentials may act as: any for
a key or a wildcard token, only its own for an identified token (40012 otherwise, as Ably refuses it).
"""

from ably_local.auth import WILDCARD_CLIENT_ID, Credentials
from ably_local.errors import invalid_client_id


def checked_client_id(credentials: Credentials, client_id: object, what: str) -> str | None:
    """The clientId `what` names (None when it names none), if the credentials may act as it."""
    if client_id is None:
        return None
    if not isinstance(client_id, str) or not client_id or client_id == WILDCARD_CLIENT_ID:
        raise invalid_client_id(f"{what} clientId must be a non-empty string other than '*'")
    if not credentials.may_act_as(client_id):
        raise invalid_client_id(f"{what} clientId {client_id[:80]!r} does not match the connection's")
    return client_id
