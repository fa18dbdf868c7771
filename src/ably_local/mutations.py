"""Mutable messages: serials, updates, deletes, appends, their versions, and annotations with summaries.

Ably enables these per namespace (the sandbox app spec's `mutableMessages`). Each message is known by its
serial; an update, delete or append makes a new version with a later serial, fanned out to subscribers
with its action, while history and rewind show each message as its latest version. Annotations
(reactions and the like) are kept per message and rolled up into a summary sent as `message.summary`
(`annotation_summary`). Records live only as long as the message is still in the channel's history, and
what each holds is bounded: an appended message by max_message_size, its versions and its annotations in
count and bytes; history is charged for all of it, so it counts in the service's totals.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from ably_local.annotation_summary import Summary
from ably_local.errors import AblyError, bad_request, message_too_large
from ably_local.history import position_text
from ably_local.inbound import message_size
from ably_local.limits import Limits

Item = dict[str, Any]


class MessageAction:
    CREATE: Final = 0
    UPDATE: Final = 1
    DELETE: Final = 2
    SUMMARY: Final = 4
    APPEND: Final = 5


MUTATIONS = frozenset({MessageAction.UPDATE, MessageAction.DELETE, MessageAction.APPEND})
NOT_ENABLED = AblyError(
    93002,
    400,
    "Message annotations, updates, appends and deletes are not enabled for this channel's namespace",
)


def message_serial(position: int, index: int) -> str:
    """Ordered as text, like Ably's serials: a later position or index sorts after."""
    return f"{position_text(position)}:{str(index).zfill(4)}"


@dataclass
class MessageRecord:
    """A published message: its latest version, every version, its annotations and their summary, and what
    its versions and annotations weigh (each bounded per message)."""

    position: int
    latest: Item
    versions: list[Item] = field(default_factory=list)
    version_bytes: int = 0
    annotations: list[Item] = field(default_factory=list)
    annotation_bytes: int = 0
    summary: Summary = field(default_factory=Summary)


class MessageStore:
    """One channel's messages by serial, oldest first."""

    def __init__(self) -> None:
        self.records: OrderedDict[str, MessageRecord] = OrderedDict()

    def add(self, serial: str, position: int, item: Item) -> None:
        self.records[serial] = MessageRecord(position, item, [item], message_size(item))

    def get(self, serial: object) -> MessageRecord:
        record = self.records.get(serial) if isinstance(serial, str) else None
        if record is None:
            raise AblyError(40400, 404, f"No message with serial {str(serial)[:80]!r} on this channel")
        return record

    def forget_before(self, position: int) -> None:
        """Drop records whose message has left the channel's history (the log calls it as it drops)."""
        while self.records:
            serial, record = next(iter(self.records.items()))
            if record.position >= position:
                return
            del self.records[serial]


def apply_mutation(record: MessageRecord, change: Item, version: Item, limits: Limits) -> Item:
    """Apply an update, delete or append to a record; returns the message subscribers are sent. Refused,
    with nothing changed, when the appended message would pass max_message_size (40009) or the message
    would hold more versions than its bounds allow (42910)."""
    action = change["action"]
    replaced = {"data": change.get("data"), "encoding": change.get("encoding")}
    replaced |= {name: change[name] for name in ("name", "extras") if change.get(name) is not None}
    delivered = _present({**record.latest, **replaced, "action": action, "version": version})
    latest = delivered
    if action == MessageAction.APPEND:
        joined = _joined(record.latest.get("data"), change.get("data"))
        latest = {**delivered, "action": MessageAction.UPDATE, "data": joined}
    size = message_size(latest)
    if size > limits.max_message_size:
        raise message_too_large(size, limits.max_message_size)
    if len(record.versions) >= limits.versions_per_message:
        raise AblyError(42910, 429, f"This message has {len(record.versions)} versions, its limit")
    if record.version_bytes + size > limits.version_bytes_per_message:
        raise AblyError(
            42910, 429, f"This message's versions would pass {limits.version_bytes_per_message} bytes"
        )
    record.latest = latest
    record.versions.append(latest)
    record.version_bytes += size
    return delivered


def check_room_for_annotations(record: MessageRecord, annotations: list[Item], limits: Limits) -> None:
    """Refuse (42910), before any is kept, annotations that would take a message past its bounds."""
    count = len(record.annotations) + len(annotations)
    if count > limits.annotations_per_message:
        limit = limits.annotations_per_message
        raise AblyError(42910, 429, f"A message may have at most {limit} annotations")
    size = record.annotation_bytes + sum(annotation_size(item) for item in annotations)
    if size > limits.annotation_bytes_per_message:
        raise AblyError(
            42910, 429, f"A message's annotations may be at most {limits.annotation_bytes_per_message} bytes"
        )


def annotate(record: MessageRecord, annotation: Item) -> None:
    record.annotations.append(annotation)
    record.annotation_bytes += annotation_size(annotation)
    record.summary.apply(annotation)


def annotation_size(annotation: Item) -> int:
    """A message's count (data, name, clientId, extras, id, encoding) and the annotation's type, which its
    summary is keyed by."""
    kind = annotation.get("type")
    return message_size(annotation) + (len(kind.encode()) if isinstance(kind, str) else 0)


def _present(item: Item) -> Item:
    return {name: value for name, value in item.items() if value is not None}


def _joined(before: object, appended: object) -> object:
    if isinstance(before, str) and isinstance(appended, str):
        return before + appended
    if isinstance(before, bytes) and isinstance(appended, bytes):
        return before + appended
    raise bad_request("Append needs text or binary data matching the message's")


def version_of(change: Item, serial: str, timestamp: int, client_id: str | None) -> Item:
    """The version fields: who made the change (a clientId already checked against the credentials), and
    the operation's description and metadata, if given."""
    operation = change.get("version")
    version: Item = {"serial": serial, "timestamp": timestamp}
    if client_id is not None:
        version["clientId"] = client_id
    if isinstance(operation, dict):
        for name in ("description", "metadata"):
            if operation.get(name) is not None:
                version[name] = operation[name]
    return version
