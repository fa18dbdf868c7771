"""Capabilities as Ably matches them: resource wildcards by `:` segment, operations by name or `*`."""

import json
from collections.abc import Mapping

from ably_local.errors import AblyError, bad_request

OPERATIONS = frozenset(
    {
        "publish",
        "subscribe",
        "presence",
        "history",
        "stats",
        "channel-metadata",
        "push-subscribe",
        "push-admin",
        "object-subscribe",
        "object-publish",
        "annotation-publish",
        "annotation-subscribe",
        "privileged-headers",
        "message-update-any",
        "message-update-own",
        "message-delete-any",
        "message-delete-own",
    }
)

Capability = Mapping[str, frozenset[str]]
ALL: Capability = {"*": frozenset({"*"})}


def parse_capability(text: str) -> Capability:
    """Parse capability JSON; a malformed one, or one nested past the parser, is refused with 40000 like
    Ably does (a capability is JSON inside a string: the body's nesting check never sees it)."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise bad_request("Invalid capability JSON") from None
    if not isinstance(raw, dict):
        raise bad_request("Capability must be a JSON object")
    capability: dict[str, frozenset[str]] = {}
    for resource, operations in raw.items():
        if isinstance(operations, str):
            operations = [operations]
        if not isinstance(operations, list) or not all(isinstance(op, str) for op in operations):
            raise bad_request(f"Invalid operations for resource {resource!r}")
        if not operations:
            raise bad_request(f"No operations for resource {resource!r}")
        if "*" in operations and len(set(operations)) > 1:
            raise bad_request(f"Operation '*' must stand alone for resource {resource!r}")
        unknown = set(operations) - OPERATIONS - {"*"}
        if unknown:
            raise bad_request(f"Unknown capability operations {sorted(unknown)}")
        capability[resource] = frozenset(operations)
    return capability


def capability_bytes(capability: Capability) -> int:
    """What a capability holds: its resources' and operations' text."""
    return sum(len(resource.encode()) + sum(len(op) for op in ops) for resource, ops in capability.items())


def resource_matches(pattern: str, name: str) -> bool:
    """`*` stands for whole `:` segments and a trailing `*` for any number; `foo*` is literal. A qualified
    name (`[filter=...]chat`) matches only a qualified pattern: `[*]` for any qualifier, or the same one."""
    pattern_qualifier, pattern_rest = _qualifier(pattern)
    if pattern_qualifier is not None:
        name_qualifier, name_rest = _qualifier(name)
        return pattern_qualifier in ("*", name_qualifier) and resource_matches(pattern_rest, name_rest)
    if pattern == "*":
        return not name.startswith("[")
    if "*" not in pattern:
        return pattern == name
    pattern_parts = pattern.split(":")
    name_parts = name.split(":")
    for index, part in enumerate(pattern_parts):
        last = index == len(pattern_parts) - 1
        if part == "*" and last:
            return len(name_parts) > index
        if index >= len(name_parts):
            return False
        if part != "*" and part != name_parts[index]:
            return False
    return len(name_parts) == len(pattern_parts)


def _qualifier(name: str) -> tuple[str | None, str]:
    if name.startswith("[") and "]" in name:
        qualifier, _, rest = name[1:].partition("]")
        return qualifier, rest
    return None, name


def operations_on(capability: Capability, channel: str) -> frozenset[str]:
    granted: set[str] = set()
    for pattern, operations in capability.items():
        if resource_matches(pattern, channel):
            granted |= OPERATIONS if "*" in operations else operations
    return frozenset(granted)


def intersect(requested: Capability, key_capability: Capability) -> Capability:
    """What a token asking for `requested` gets from its key: for each pair of resources that overlap,
    the narrower resource with the operations both allow. Nothing in common is refused with 40160."""
    result: dict[str, frozenset[str]] = {}
    for resource, wanted in requested.items():
        for pattern, granted in key_capability.items():
            overlap = _narrower(resource, pattern)
            if overlap is None:
                continue
            operations = _common(wanted, granted)
            if operations:
                merged = result.get(overlap, frozenset()) | operations
                result[overlap] = frozenset({"*"}) if "*" in merged else merged
    if not result:
        raise AblyError(40160, 401, "Requested capability has nothing in common with the key's")
    return result


def _common(wanted: frozenset[str], granted: frozenset[str]) -> frozenset[str]:
    if "*" in wanted:
        return granted
    if "*" in granted:
        return wanted
    return wanted & granted


def _narrower(resource: str, pattern: str) -> str | None:
    """The resource set two capability resources share, when one lies inside the other."""
    if _pattern_covers(pattern, resource):
        return resource
    if _pattern_covers(resource, pattern):
        return pattern
    return None


def to_json(capability: Capability) -> str:
    return json.dumps({resource: sorted(ops) for resource, ops in sorted(capability.items())})


def _pattern_covers(pattern: str, resource: str) -> bool:
    if pattern == resource:
        return True
    if "*" not in resource:
        return resource_matches(pattern, resource)
    if pattern == "*":
        return not resource.startswith("[")
    if pattern.endswith(":*"):
        prefix = pattern[:-1]
        return resource.startswith(prefix)
    return False
