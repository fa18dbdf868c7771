"""What a client sends, checked before the service keeps or forwards any of it.

A frame that decodes can still be wrong: a field of the wrong type, data nested past the limit, a number or
a lone surrogate that one wire format cannot carry. Such input is refused here with 40000, so that nothing
stored can later fail to encode for some subscriber, and sizes are counted the way Ably counts them.
"""

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ably_local.errors import bad_request

# msgpack carries integers in 64 bits: signed down to -2**63, unsigned up to 2**64 - 1.
_INT_RANGE = range(-(2**63), 2**64)
MESSAGE_TEXT_FIELDS = ("name", "clientId", "id", "encoding", "connectionKey", "serial")
PRESENCE_TEXT_FIELDS = ("clientId", "id", "encoding")
# What a client may set on a message or presence item; anything else is dropped, as Ably does.
MESSAGE_FIELDS = (*MESSAGE_TEXT_FIELDS, "data", "extras", "action", "serial", "version")
PRESENCE_FIELDS = (*PRESENCE_TEXT_FIELDS, "action", "data", "extras")
ANNOTATION_TEXT_FIELDS = ("clientId", "id", "encoding", "messageSerial", "type", "name")
ANNOTATION_FIELDS = (*ANNOTATION_TEXT_FIELDS, "action", "count", "data", "extras")

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
    _check_common(item, MESSAGE_TEXT_FIELDS, depth, "message")
    action = item.get("action")
    if action is not None and (not isinstance(action, int) or isinstance(action, bool)):
        raise bad_request("A message's action must be a number")
    version = item.get("version")
    if version is not None and not isinstance(version, dict):
        raise bad_request("A message's version must be an object")
    check_portable(version, depth, "A message's version")
    return {field: item[field] for field in MESSAGE_FIELDS if item.get(field) is not None}


def presence_from(item: Item, depth: int) -> Item:
    action = item.get("action")
    if not isinstance(action, int) or isinstance(action, bool):
        raise bad_request("Presence action must be a number")
    _check_common(item, PRESENCE_TEXT_FIELDS, depth, "presence")
    return {field: item[field] for field in PRESENCE_FIELDS if item.get(field) is not None}


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
    _check_common(item, ANNOTATION_TEXT_FIELDS, depth, "annotation")
    return {field: item[field] for field in ANNOTATION_FIELDS if item.get(field) is not None}


def _check_common(item: Item, text_fields: tuple[str, ...], depth: int, kind: str) -> None:
    for field in text_fields:
        value = item.get(field)
        if value is not None:
            if not isinstance(value, str):
                raise bad_request(f"A {kind}'s {field} must be a string")
            _check_text(value, f"A {kind}'s {field}")
    extras = item.get("extras")
    if extras is not None and not isinstance(extras, dict):
        raise bad_request(f"A {kind}'s extras must be an object")
    data = item.get("data")
    if not isinstance(data, bytes):
        check_portable(data, depth, f"A {kind}'s data")
    check_portable(extras, depth, f"A {kind}'s extras")


def message_size(item: Mapping[str, Any]) -> int:
    """Ably's count: data as encoded (any type), name, clientId, extras, id and encoding, in bytes."""
    size = 0
    for field in ("data", "name", "clientId", "id", "encoding", "extras"):
        value = item.get(field)
        if value is None:
            continue
        if isinstance(value, str):
            size += len(value) if value.isascii() else len(value.encode())
        elif isinstance(value, bytes | bytearray):
            size += len(value)
        else:
            size += len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
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
