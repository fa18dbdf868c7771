"""Message deltas (channel param `delta=vcdiff`): a subscriber that asked for them gets each message as a
VCDIFF of the previous one on the channel, when it holds that previous one.

Ably's rules, as ably-js applies them: a delta message carries `extras.delta = {from, format}` naming the
message it patches, and `vcdiff` (after `utf-8` for text) at the end of its encoding; the first message of a
protocol message is checked against the last message the subscriber decoded. Deltas are computed only when
a delta subscriber needs them, once per event, and shared by every such subscriber.
"""

from dataclasses import dataclass, field
from typing import Any

from ably_local import vcdiff
from ably_local.protocol import JSON, ProtocolMessage, encode_frame, to_json_item

Item = dict[str, Any]


@dataclass(frozen=True)
class Payload:
    """A message's data as the wire carries it, the base the next delta patches."""

    message_id: str
    data: bytes
    text: bool


def payload_of(item: Item) -> Payload | None:
    data = item.get("data")
    if isinstance(data, str):
        return Payload(item["id"], data.encode(), True)
    if isinstance(data, bytes):
        return Payload(item["id"], data, False)
    return None  # objects and numbers are not patched; the next message goes in full


@dataclass(eq=False)
class DeltaVersion:
    """An event's messages as deltas against what came before them on the channel."""

    base: Payload
    message: ProtocolMessage
    _frames: dict[str, str | bytes] = field(default_factory=dict)

    @property
    def patches(self) -> str:
        """The message id a subscriber must hold for this delta to apply."""
        return self.base.message_id

    def frame(self, fmt: str) -> str | bytes:
        frame = self._frames.get(fmt)
        if frame is None:
            items = self._items()
            if fmt == JSON:
                items = [to_json_item(item) for item in items]
            frame = self._frames[fmt] = encode_frame({**self.message, "messages": items}, fmt)
        return frame

    def _items(self) -> list[Item]:
        items: list[Item] = []
        base: Payload | None = self.base
        for item in self.message["messages"]:
            payload = payload_of(item)
            items.append(_patched(item, base, payload) if base is not None and payload is not None else item)
            base = payload
        return items


def _patched(item: Item, base: Payload, payload: Payload) -> Item:
    encoding = item.get("encoding")
    steps = [step for step in (encoding, "utf-8" if payload.text else None, "vcdiff") if step]
    extras = {**item.get("extras", {}), "delta": {"from": base.message_id, "format": "vcdiff"}}
    return {
        **item,
        "data": vcdiff.encode(base.data, payload.data),
        "encoding": "/".join(steps),
        "extras": extras,
    }
