"""The Netlify Identity user a request carries: who they are (`sub`) and the roles a site admin gave them.

Netlify's Node runtime gives the user as `context.clientContext.user`; the raw Lambda form is
`client_context.custom.netlify`, base64 JSON `{"identity": ..., "user": ...}`. Either is present only when the
request carried a valid Identity token, so what it holds is trusted: `app_metadata` is set by the site's
admins (users cannot change it), unlike `user_metadata`.
"""

import base64
import binascii
import unicodedata
from collections.abc import Mapping
from typing import Any

from ably_token_request.errors import BadRequest, InvalidClientId
from ably_token_request.json_input import parse_json
from ably_token_request.limits import MAX_IDENTITY_ROLES

# Cc: control characters; Cs: lone surrogates, which cannot be encoded as UTF-8.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs"})


class InvalidIdentityRoles(BadRequest):
    """The user's app_metadata.roles cannot travel in a token; the site's admin fixes them."""


def has_unsafe_characters(text: str) -> bool:
    """Control characters or lone surrogates: they would break a log line, a page, or the UTF-8 of a token."""
    return any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in text)


def identity_subject(context: object) -> object:
    """The Identity user's `sub` as given (client_id.py checks it), or None without a user."""
    return _field(_identity_user(context), "sub")


def _identity_user(context: object) -> object:
    """The Identity user's claims, or None for a request without a valid Identity token."""
    client_context = _field(context, "clientContext", "client_context")
    if client_context is None:
        return None
    user = _field(client_context, "user")
    if user is None:
        user = _decoded_netlify_user(_field(_field(client_context, "custom"), "netlify"))
    return user


def identity_roles(context: object) -> tuple[str, ...]:
    """The Identity user's `app_metadata.roles`, checked; none for an anonymous request or a user without."""
    roles = _field(_field(_identity_user(context), "app_metadata"), "roles")
    if roles is None:
        return ()
    fix = "Fix the user's roles in the site's Identity settings."
    if not isinstance(roles, list):
        raise InvalidIdentityRoles(f"The Identity user's roles must be a list of names. {fix}")
    if len(roles) > MAX_IDENTITY_ROLES:  # counted first: a huge list is refused without reading it
        raise InvalidIdentityRoles(f"The Identity user has more than {MAX_IDENTITY_ROLES} roles. {fix}")
    if not all(isinstance(role, str) and role for role in roles):
        raise InvalidIdentityRoles(f"The Identity user's roles must be a list of names. {fix}")
    if any(has_unsafe_characters(role) for role in roles):
        raise InvalidIdentityRoles(f"An Identity role contains control characters. {fix}")
    return tuple(roles)


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
