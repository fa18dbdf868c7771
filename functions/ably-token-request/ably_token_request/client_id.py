"""Who the token is for: the logged-in identity, else the requested clientId, else the default."""

from ably_token_request.errors import ClientIdMismatch, InvalidClientId
from ably_token_request.identity import has_unsafe_characters, identity_subject
from ably_token_request.limits import MAX_CLIENT_ID_LENGTH


def validate_client_id(client_id: str) -> str:
    """Refuse clientIds that would widen a token's identity or break a log line or a page."""
    if client_id == "*":
        raise InvalidClientId("clientId '*' (any identity) cannot be requested.")
    if len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise InvalidClientId(f"clientId is longer than {MAX_CLIENT_ID_LENGTH} characters.")
    if has_unsafe_characters(client_id):
        raise InvalidClientId("clientId contains control characters.")
    return client_id


def choose_client_id(requested: str | None, identity: str | None, default: str) -> str:
    """A logged-in user is who they are: asking for another clientId is impersonation."""
    if identity is not None:
        if requested is not None and requested != identity:
            raise ClientIdMismatch("clientId does not match the logged-in user.")
        return identity
    if requested is None:
        return default
    return validate_client_id(requested)


def identity_client_id(context: object) -> str | None:
    """The Netlify Identity user's id (`sub`) when the request carried a valid Identity token."""
    subject = identity_subject(context)
    if subject is None:
        return None
    if not isinstance(subject, str) or not subject:
        raise InvalidClientId("The Identity user has no usable id.")
    return validate_client_id(subject)
