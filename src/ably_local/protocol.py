"""Ably realtime protocol messages: action and flag numbers, and frame encoding for JSON and msgpack.

JSON travels in text frames and msgpack in binary frames. Binary message data is carried as bytes inside
the service; a JSON client sees it base64-encoded with `base64` appended to its encoding, as Ably does.
"""

import base64
import json
from enum import IntEnum
from typing import Any, Final

import msgpack
import orjson

from ably_local.errors import bad_request

SUPPORTED_PROTOCOL_VERSIONS = frozenset({"2", "3", "4", "5", "6"})
JSON = "json"
MSGPACK = "msgpack"
FORMATS = frozenset({JSON, MSGPACK})

ProtocolMessage = dict[str, Any]


class Action(IntEnum):
    HEARTBEAT = 0
    ACK = 1
    NACK = 2
    CONNECT = 3
    CONNECTED = 4
    DISCONNECT = 5
    DISCONNECTED = 6
    CLOSE = 7
    CLOSED = 8
    ERROR = 9
    ATTACH = 10
    ATTACHED = 11
    DETACH = 12
    DETACHED = 13
    PRESENCE = 14
    MESSAGE = 15
    SYNC = 16
    AUTH = 17
    ANNOTATION = 21


class Flag:
    HAS_PRESENCE: Final = 1 << 0
    HAS_BACKLOG: Final = 1 << 1
    RESUMED: Final = 1 << 2
    ATTACH_RESUME: Final = 1 << 5
    TRANSIENT: Final = 1 << 4
    PRESENCE: Final = 1 << 16
    PUBLISH: Final = 1 << 17
    SUBSCRIBE: Final = 1 << 18
    PRESENCE_SUBSCRIBE: Final = 1 << 19
    ANNOTATION_PUBLISH: Final = 1 << 21
    ANNOTATION_SUBSCRIBE: Final = 1 << 22
    OBJECT_SUBSCRIBE: Final = 1 << 24
    OBJECT_PUBLISH: Final = 1 << 25
    MODES: Final = (
        PRESENCE
        | PUBLISH
        | SUBSCRIBE
        | PRESENCE_SUBSCRIBE
        | ANNOTATION_PUBLISH
        | ANNOTATION_SUBSCRIBE
        | OBJECT_SUBSCRIBE
        | OBJECT_PUBLISH
    )


class PresenceAction(IntEnum):
    ABSENT = 0
    PRESENT = 1
    ENTER = 2
    LEAVE = 3
    UPDATE = 4


def decode_frame(frame: str | bytes, fmt: str) -> ProtocolMessage:
    """A JSON connection sends text frames and a msgpack one binary frames; anything else is a 40000."""
    if isinstance(frame, str) != (fmt == JSON):
        raise bad_request(f"Expected {'text' if fmt == JSON else 'binary'} frames for format {fmt}")
    message = decode_json(frame) if isinstance(frame, str) else decode_msgpack(frame)
    if not isinstance(message, dict) or not isinstance(message.get("action"), int):
        raise bad_request("Protocol message must be an object with a numeric action")
    if isinstance(frame, str) and "base64" in frame:  # only then can an item's encoding end in base64
        for item in (
            *_items(message, "messages"),
            *_items(message, "presence"),
            *_items(message, "annotations"),
        ):
            decode_base64_data(item)
    return message


def decode_json(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    # What orjson refuses but JSON allows (a lone surrogate escape, a huge integer, NaN) is read here and
    # refused later, with the reason, by the input checks; only malformed text fails at this point.
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise bad_request("Unable to decode JSON: malformed or nested too deeply") from None


def decode_msgpack(data: bytes) -> Any:
    try:
        return msgpack.unpackb(data, raw=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        raise bad_request("Unable to decode msgpack: malformed or nested too deeply") from None


def encode_frame(message: ProtocolMessage, fmt: str) -> str | bytes:
    if fmt == MSGPACK:
        packed: bytes = _MSGPACK.pack(message)
        return packed
    text: str = orjson.dumps(message, default=_json_default).decode()
    return text


def decode_base64_data(item: dict[str, Any]) -> None:
    """Turn base64 text from a JSON client into bytes, the form binary data has inside the service."""
    encoding = item.get("encoding")
    if isinstance(encoding, str) and isinstance(item.get("data"), str):
        head, _, last = encoding.rpartition("/")
        if last == "base64":
            try:
                item["data"] = base64.b64decode(item["data"], validate=True)
            except ValueError:
                raise bad_request("Message data is not valid base64") from None
            item["encoding"] = head or None
            if item["encoding"] is None:
                del item["encoding"]


def to_json_item(item: dict[str, Any]) -> dict[str, Any]:
    """A message or presence item as JSON carries it: bytes become base64 with the encoding noted."""
    data = item.get("data")
    if not isinstance(data, bytes | bytearray):
        return item
    encoding = item.get("encoding")
    return {
        **item,
        "data": base64.b64encode(data).decode(),
        "encoding": f"{encoding}/base64" if encoding else "base64",
    }


def _items(message: ProtocolMessage, field: str) -> list[dict[str, Any]]:
    items = message.get(field)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise bad_request(f"Protocol message {field} must be a list of objects")
    return items


def _json_default(value: object) -> object:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# Built once: msgpack.packb makes a new packer per call. (Packing holds the GIL, so threads can share it.)
_MSGPACK = msgpack.Packer(use_bin_type=True)
