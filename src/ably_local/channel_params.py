"""What a client asks for when it attaches: channel modes and the channel params Ably recognises.

Modes come from the ATTACH flags, or from a `modes` param, which wins. Of the params, `rewind` (a number of
messages or a duration such as `30s`) replays recent history on a fresh attach, and `delta` asks for
vcdiff deltas; unknown params are dropped, and recognised ones are echoed in ATTACHED as Ably does.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from ably_local.errors import bad_request
from ably_local.inbound import check_portable, optional_int
from ably_local.protocol import Flag

MODE_FLAGS = {
    "presence": Flag.PRESENCE,
    "publish": Flag.PUBLISH,
    "subscribe": Flag.SUBSCRIBE,
    "presence_subscribe": Flag.PRESENCE_SUBSCRIBE,
    "annotation_publish": Flag.ANNOTATION_PUBLISH,
    "annotation_subscribe": Flag.ANNOTATION_SUBSCRIBE,
    "object_subscribe": Flag.OBJECT_SUBSCRIBE,
    "object_publish": Flag.OBJECT_PUBLISH,
}
RECOGNISED_PARAMS = frozenset({"rewind", "delta", "modes", "occupancy"})
_DURATION = re.compile(r"(?P<amount>\d{1,9})(?P<unit>ms|s|m|h)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


@dataclass(frozen=True)
class Rewind:
    """Replay the last `messages`, or those from the last `milliseconds` (`replay` caps either at 100)."""

    messages: int | None = None
    milliseconds: int | None = None


@dataclass(frozen=True)
class AttachRequest:
    modes: int = 0  # 0: every mode the capability grants
    params: dict[str, str] = field(default_factory=dict)
    rewind: Rewind | None = None
    delta: bool = False
    resume: bool = False


def parse_attach(message: dict[str, Any]) -> AttachRequest:
    flags = optional_int(message, "flags") or 0
    raw = message.get("params")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict) or not all(_is_scalar(v) for v in raw.values()):
        raise bad_request("ATTACH params must be an object of strings")
    # ably-js passes params through as given, so `{rewind: 1}` arrives as a number; Ably reads it as text.
    params = {name: _text(value) for name, value in raw.items() if name in RECOGNISED_PARAMS}
    check_portable(params, 1, "ATTACH params")
    modes = flags & Flag.MODES
    if "modes" in params:
        modes = _modes(params["modes"])
    rewind = _rewind(params["rewind"]) if "rewind" in params else None
    delta = params.get("delta")
    if delta is not None and delta != "vcdiff":
        raise bad_request(f"Unsupported delta format {delta!r}; only vcdiff is supported")
    return AttachRequest(modes, params, rewind, delta is not None, bool(flags & Flag.ATTACH_RESUME))


def _modes(text: str) -> int:
    modes = 0
    for name in filter(None, (part.strip().lower() for part in text.split(","))):
        flag = MODE_FLAGS.get(name)
        if flag is None:
            raise bad_request(f"Unknown channel mode {name!r}")
        modes |= flag
    return modes


def _rewind(text: str) -> Rewind:
    if text.isdigit() and len(text) <= 9:
        return Rewind(messages=int(text))
    match = _DURATION.fullmatch(text)
    if match is None:
        raise bad_request("rewind must be a number of messages or a duration such as 30s, 5m or 1h")
    return Rewind(milliseconds=int(match["amount"]) * _UNIT_MS[match["unit"]])


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _text(value: str | int | float) -> str:
    return value if isinstance(value, str) else str(value)
