"""What a client sends, checked before the service keeps or forwards any of it.

A frame that decodes can still be wrong: a field of the wrong type, data nested past the limit, a number or
a lone surrogate that one wire format cannot carry. Such input is refused here with 40000, so that nothing
stored can later fail to encode for some subscriber, and sizes are counted the way Ably counts them.
"""

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ably_local.errors import bad_request, message_too_large

# msgpack carries integers in 64 bits: signed down to -2**63, unsigned up to 2**64 - 1.
_INT_RANGE = range(-(2**63), 2**64)
MESSAGE_TEXT_FIELDS = frozenset({"name", "clientId", "id", "encoding", "connectionKey", "serial"})
PRESENCE_TEXT_FIELDS = frozenset({"clientId", "id", "encoding"})
# What a client may set on a message or presence item; anything else is dropped, as Ably does. A message's
# connectionKey names the connection a REST publish is made for; it is never stored or delivered (TM2h).
MESSAGE_FIELDS = frozenset(
    {"name", "clientId", "id", "encoding", "data", "extras", "action", "serial", "version"}
)
PRESENCE_FIELDS = PRESENCE_TEXT_FIELDS | {"action", "data", "extras"}
ANNOTATION_TEXT_FIELDS = frozenset({"clientId", "id", "encoding", "messageSerial", "type", "name"})
ANNOTATION_FIELDS = ANNOTATION_TEXT_FIELDS | {"action", "count", "data", "extras"}
# What Ably counts toward a message's size.
SIZED_FIELDS = frozenset({"data", "name", "clientId", "id", "encoding", "extras"})

Item = dict[str, Any]


def check_portable(value: object, depth: int, where: str) -> None:
    """Refuse what JSON and msgpack cannot both carry unchanged, and nesting deeper than `depth`."""
    if isinstance(value, str):
        _check_text(value, where)
    elif value is None or isinstance(value, bool):
        return
    elif isinstance(value, int):
        if value not in _INT_RANGE:
            raise bad_request(f"{where} holds an integer outside the 64-bit range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise bad_request(f"{where} holds a number that is not finite")
    elif isinstance(value, list | dict):
        if depth <= 0:
            raise bad_request(f"{where} is nested too deeply")
        children: Iterable[object] = value
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str):
                    raise bad_request(f"{where} has an object key that is not a string")
                _check_text(key, where)
            children = value.values()
        for child in children:
            check_portable(child, depth - 1, where)
    else:
        raise bad_request(f"{where} holds a value of a type that cannot be carried in JSON and msgpack")


def _check_text(text: str, where: str) -> None:
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            raise bad_request(f"{where} holds text that is not valid Unicode (a lone surrogate)") from None


def message_from(item: Item, depth: int) -> Item:
    """A published message with only the fields Ably defines, each of its proper type."""
    checked = _checked(item, MESSAGE_TEXT_FIELDS, MESSAGE_FIELDS, depth, "message")
    action = checked.get("action")
    if action is not None and (not isinstance(action, int) or isinstance(action, bool)):
        raise bad_request("A message's action must be a number")
    version = checked.get("version")
    if version is not None:
        if not isinstance(version, dict):
            raise bad_request("A message's version must be an object")
        check_portable(version, depth, "A message's version")
    return checked


def presence_from(item: Item, depth: int) -> Item:
    action = item.get("action")
    if not isinstance(action, int) or isinstance(action, bool):
        raise bad_request("Presence action must be a number")
    return _checked(item, PRESENCE_TEXT_FIELDS, PRESENCE_FIELDS, depth, "presence")


def annotation_from(item: Item, depth: int) -> Item:
    """An annotation (action 0 create, 1 delete) on a message named by its serial."""
    if item.get("action", 0) not in (0, 1) or isinstance(item.get("action"), bool):
        raise bad_request("Annotation action must be 0 (create) or 1 (delete)")
    count = item.get("count")
    if count is not None and (
        not isinstance(count, int) or isinstance(count, bool) or count not in _INT_RANGE
    ):
        raise bad_request("Annotation count must be a whole number")
    if not isinstance(item.get("messageSerial"), str):
        raise bad_request("An annotation needs the messageSerial of the message it annotates")
    return _checked(item, ANNOTATION_TEXT_FIELDS, ANNOTATION_FIELDS, depth, "annotation")


def _checked(item: Item, text_fields: frozenset[str], fields: frozenset[str], depth: int, kind: str) -> Item:
    """The item's fields Ably defines (others dropped), each checked: text is text, extras an object, and
    data and extras carry nothing JSON or msgpack could not."""
    checked: Item = {}
    for field, value in item.items():
        if value is None or field not in fields:
            continue
        if field in text_fields:
            if not isinstance(value, str):
                raise bad_request(f"A {kind}'s {field} must be a string")
            _check_text(value, f"A {kind}'s {field}")
        elif field == "extras":
            if not isinstance(value, dict):
                raise bad_request(f"A {kind}'s extras must be an object")
            check_portable(value, depth, f"A {kind}'s extras")
        elif field == "data" and not isinstance(value, bytes):
            check_portable(value, depth, f"A {kind}'s data")
        checked[field] = value
    return checked


def message_size(item: Mapping[str, Any]) -> int:
    """Ably's count: data as encoded (any type), name, clientId, extras, id and encoding, in bytes."""
    size = 0
    for field, value in item.items():
        if value is None or field not in SIZED_FIELDS:
            continue
        if isinstance(value, str):
            size += len(value) if value.isascii() else len(value.encode())
        elif isinstance(value, bytes | bytearray):
            size += len(value)
        else:
            size += len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    return size


def checked_size(items: list[Item], limit: int) -> int:
    """The items' size by Ably's count; over `limit` is refused with 40009."""
    size = sum(message_size(item) for item in items)
    if size > limit:
        raise message_too_large(size, limit)
    return size


def items_of(message: Mapping[str, Any], field: str) -> list[Item]:
    """The non-empty list of objects a MESSAGE or PRESENCE carries."""
    items = message.get(field)
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        raise bad_request(f"Protocol message needs a non-empty list of {field}")
    return items


def optional_int(message: Mapping[str, Any], field: str) -> int | None:
    value = message.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_request(f"Protocol message {field} must be a number")
    return value


def optional_text(message: Mapping[str, Any], field: str) -> str | None:
    value = message.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"Protocol message {field} must be a string")
    _check_text(value, f"Protocol message {field}")
    return value
