"""Who the token is for: the logged-in identity, else the requested clientId, else the default."""

import base64
import binascii
import unicodedata
from collections.abc import Mapping
from typing import Any

from ably_token_request.errors import ClientIdMismatch, InvalidClientId
from ably_token_request.json_input import parse_json
from ably_token_request.limits import MAX_CLIENT_ID_LENGTH

# Cc: control characters; Cs: lone surrogates, which cannot be encoded into the signed text.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs"})


def validate_client_id(client_id: str) -> str:
    """Refuse clientIds that would widen a token's identity or break a log line or a page."""
    if client_id == "*":
        raise InvalidClientId("clientId '*' (any identity) cannot be requested.")
    if len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise InvalidClientId(f"clientId is longer than {MAX_CLIENT_ID_LENGTH} characters.")
    if any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in client_id):
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
    """The Netlify Identity user's id (`sub`) when the request carried a valid Identity token.

    Netlify's Node runtime gives `context.clientContext.user`; the raw Lambda form is
    `client_context.custom.netlify`, base64 JSON `{"identity": ..., "user": ...}`.
    """
    client_context = _field(context, "clientContext", "client_context")
    if client_context is None:
        return None
    user = _field(client_context, "user")
    if user is None:
        user = _decoded_netlify_user(_field(_field(client_context, "custom"), "netlify"))
    subject = _field(user, "sub")
    if subject is None:
        return None
    if not isinstance(subject, str) or not subject:
        raise InvalidClientId("The Identity user has no usable id.")
    return validate_client_id(subject)


def _field(source: object, *names: str) -> Any:
    for name in names:
        if isinstance(source, Mapping):
            if name in source:
                return source[name]
        elif source is not None and (value := getattr(source, name, None)) is not None:
            return value
    return None


def _decoded_netlify_user(raw: object) -> object:
    if not isinstance(raw, str):
        return None
    try:
        decoded = parse_json(base64.b64decode(raw, validate=True).decode())
    except (binascii.Error, ValueError):
        raise InvalidClientId("The Identity context could not be read.") from None
    return _field(decoded, "user")
