"""Mutable messages: serials, updates, deletes, appends, their versions, and annotations with summaries.

Ably enables these per namespace (the sandbox app spec's `mutableMessages`). Each message is known by its
serial; an update, delete or append makes a new version with a later serial, fanned out to subscribers
with its action, while history and rewind show each message as its latest version. Annotations
(reactions and the like) are kept per message and rolled up into a summary sent as `message.summary`.
Records live only as long as the message is still in the channel's history.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from ably_local.errors import AblyError, bad_request
from ably_local.history import position_text

Item = dict[str, Any]


class MessageAction:
    CREATE: Final = 0
    UPDATE: Final = 1
    DELETE: Final = 2
    SUMMARY: Final = 4
    APPEND: Final = 5


MUTATIONS = frozenset({MessageAction.UPDATE, MessageAction.DELETE, MessageAction.APPEND})
ANNOTATION_CREATE = 0
ANNOTATION_DELETE = 1
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
    position: int
    latest: Item
    versions: list[Item] = field(default_factory=list)
    annotations: list[Item] = field(default_factory=list)


class MessageStore:
    """One channel's messages by serial, oldest first."""

    def __init__(self) -> None:
        self.records: OrderedDict[str, MessageRecord] = OrderedDict()

    def add(self, serial: str, position: int, item: Item) -> None:
        self.records[serial] = MessageRecord(position, item, [item])

    def get(self, serial: object) -> MessageRecord:
        record = self.records.get(serial) if isinstance(serial, str) else None
        if record is None:
            raise AblyError(40400, 404, f"No message with serial {serial!r} on this channel")
        return record

    def forget_before(self, position: int) -> None:
        """Drop records whose message has left the channel's history."""
        while self.records:
            serial, record = next(iter(self.records.items()))
            if record.position >= position:
                return
            del self.records[serial]


def apply_mutation(record: MessageRecord, change: Item, version: Item) -> Item:
    """Apply an update, delete or append to a record; returns the message subscribers are sent."""
    action = change["action"]
    replaced = {"data": change.get("data"), "encoding": change.get("encoding")}
    replaced |= {name: change[name] for name in ("name", "extras") if change.get(name) is not None}
    delivered = _present({**record.latest, **replaced, "action": action, "version": version})
    latest = delivered
    if action == MessageAction.APPEND:
        joined = _joined(record.latest.get("data"), change.get("data"))
        latest = {**delivered, "action": MessageAction.UPDATE, "data": joined}
    record.latest = latest
    record.versions.append(latest)
    return delivered


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


def summary(annotations: list[Item]) -> dict[str, Any]:
    """Roll annotations up by type and name, the way the `*.v1` aggregation types count them."""
    rolled: dict[str, Any] = {}
    for annotation in annotations:
        kind = annotation.get("type", "")
        method = kind.rsplit(":", 1)[-1] if ":" in kind else "total.v1"
        client_id = annotation.get("clientId")
        create = annotation.get("action", ANNOTATION_CREATE) == ANNOTATION_CREATE
        if method == "total.v1":
            entry = rolled.setdefault(kind, {"total": 0})
            entry["total"] += 1 if create else -1
            continue
        entry = rolled.setdefault(kind, {})
        name = annotation.get("name", "")
        if method == "multiple.v1":
            counted = entry.setdefault(name, {"total": 0, "clientIds": {}, "totalUnidentified": 0})
            amount = annotation.get("count", 1) if create else 0
            if client_id is None:
                counted["totalUnidentified"] += amount
            else:
                counted["clientIds"][client_id] = counted["clientIds"].get(client_id, 0) + amount
            counted["total"] = sum(counted["clientIds"].values()) + counted["totalUnidentified"]
        else:  # distinct.v1, unique.v1, flag.v1: who, counted once each
            counted = entry.setdefault(name, {"total": 0, "clientIds": []})
            if create and client_id is not None and client_id not in counted["clientIds"]:
                counted["clientIds"].append(client_id)
            elif not create and client_id in counted["clientIds"]:
                counted["clientIds"].remove(client_id)
            counted["total"] = len(counted["clientIds"])
    return rolled
