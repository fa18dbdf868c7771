"""Annotation summaries: a message's annotations rolled up by type, kept up to date as each one arrives.

Each type names its summarization method after the colon (`reactions:distinct.v1`), as Ably documents them:
- `total.v1` (and a type with no method): how many, creates minus deletes;
- `flag.v1`: which identified clients flagged it, each once;
- `distinct.v1`: per name, which identified clients used it, each once per name;
- `unique.v1`: as distinct, but each client counts for one name at a time (a new name moves it);
- `multiple.v1`: per name, each client's count (an annotation's `count`, 1 by default) and the unidentified
  clients' total; a delete removes that client's contributions to the name.
Other methods are rolled up as `distinct.v1`. A summary goes to subscribers with every change; its
clientId lists are clipped (`clipped: true`, the totals still exact, and `totalClientIds` for
`multiple.v1`) to keep it within the maximum message size, as Ably clips large summaries.
"""

import json
from typing import Any

Item = dict[str, Any]
ANNOTATION_CREATE = 0


class _Clients:
    """Identified clients in the order they first counted, each with what it contributed."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.unidentified = 0

    def wire(self, clip: int | None, counted: bool) -> Item:
        names = list(self.counts)
        shown = names if clip is None else names[:clip]
        entry: Item = {"clipped": len(shown) < len(names)}
        if counted:
            entry["total"] = sum(self.counts.values()) + self.unidentified
            entry["clientIds"] = {client_id: self.counts[client_id] for client_id in shown}
            entry["totalUnidentified"] = self.unidentified
            entry["totalClientIds"] = len(names)
        else:
            entry["total"] = len(names)
            entry["clientIds"] = shown
        return entry

    @property
    def longest(self) -> int:
        return len(self.counts)


class Summary:
    """The rollup of one message's annotations, updated one annotation at a time."""

    def __init__(self) -> None:
        self._totals: dict[str, int] = {}
        self._flags: dict[str, _Clients] = {}
        self._named: dict[str, dict[str, _Clients]] = {}  # distinct, unique and multiple: type -> name
        self._unique_names: dict[tuple[str, str], str] = {}  # unique.v1: (type, clientId) -> its name

    def apply(self, annotation: Item) -> None:
        kind = str(annotation.get("type", ""))
        method = kind.rsplit(":", 1)[-1] if ":" in kind else "total.v1"
        create = annotation.get("action", ANNOTATION_CREATE) == ANNOTATION_CREATE
        client_id = annotation.get("clientId")
        if method == "total.v1":
            self._totals[kind] = self._totals.get(kind, 0) + (1 if create else -1)
            return
        if method == "flag.v1":
            flagged = self._flags.setdefault(kind, _Clients())
            if isinstance(client_id, str):
                _mark(flagged, client_id, create)
            return
        name = str(annotation.get("name", ""))
        names = self._named.setdefault(kind, {})
        if method == "multiple.v1":
            counts = names.setdefault(name, _Clients())
            count = annotation.get("count", 1)
            if not isinstance(client_id, str):
                counts.unidentified += count if create else 0
            elif create:
                counts.counts[client_id] = counts.counts.get(client_id, 0) + count
            else:
                counts.counts.pop(client_id, None)
            return
        clients = names.setdefault(name, _Clients())
        if not isinstance(client_id, str):
            return  # counted by identified clients only: the name shows, with what they contributed
        if method == "unique.v1" and create:
            previous = self._unique_names.get((kind, client_id))
            if previous is not None and previous != name and previous in names:
                names[previous].counts.pop(client_id, None)
            self._unique_names[(kind, client_id)] = name
        elif method == "unique.v1" and self._unique_names.get((kind, client_id)) == name:
            del self._unique_names[(kind, client_id)]
        _mark(clients, client_id, create)

    def wire(self, max_bytes: int) -> tuple[Item, int]:
        """The summary as sent, and its size: client lists clipped (halving) until it fits in `max_bytes`."""
        clip: int | None = None
        while True:
            summary = self._wire(clip)
            size = len(json.dumps(summary, separators=(",", ":"), ensure_ascii=False).encode())
            longest = self._longest_list(clip)
            if size <= max_bytes or longest == 0:
                return summary, size
            clip = longest // 2

    def _wire(self, clip: int | None) -> Item:
        rolled: Item = {kind: {"total": total} for kind, total in self._totals.items()}
        for kind, clients in self._flags.items():
            rolled[kind] = clients.wire(clip, counted=False)
        for kind, names in self._named.items():
            counted = kind.endswith(":multiple.v1")
            rolled[kind] = {name: clients.wire(clip, counted) for name, clients in names.items()}
        return rolled

    def _longest_list(self, clip: int | None) -> int:
        lists = [clients.longest for clients in self._flags.values()]
        lists += [clients.longest for names in self._named.values() for clients in names.values()]
        longest = max(lists, default=0)
        return longest if clip is None else min(longest, clip)


def _mark(clients: _Clients, client_id: str, create: bool) -> None:
    if create:
        clients.counts.setdefault(client_id, 1)
    else:
        clients.counts.pop(client_id, None)
