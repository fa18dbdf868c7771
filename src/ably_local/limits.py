"""Every bound the local service enforces, in one place.

Each limit is in bytes where memory is at stake, and in counts where a count is what a client sees. The
README's limits table is this class; `tests/realtime/test_hostile.py` drives each one past its edge.
"""

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Limits:
    # One publish (all its messages: data as encoded, name, clientId, extras, id, encoding); 40009.
    max_message_size: int = 64 * KiB
    # Messages in one publish, however small; 40034.
    max_messages_per_publish: int = 1_000
    # One inbound WebSocket frame or REST request body; advertised to clients as maxFrameSize.
    max_frame_size: int = 512 * KiB
    # Fragments one inbound WebSocket message may arrive in: each is kept until the message ends, so tiny
    # ones must not be endless however few bytes they carry; beyond, the socket is closed with 1009.
    max_frame_fragments: int = 1_024
    # What every connection together may have sent of messages not complete yet (each up to
    # max_frame_size); the connection that passes it is closed with 1013, try again later.
    inbound_bytes_total: int = 64 * MiB
    # Nesting of objects and arrays inside a frame or body; deeper is refused with 40000.
    max_nesting_depth: int = 32
    # A channel name in bytes, a [filter=...] qualifier included; 40010 beyond.
    channel_name_bytes: int = 1_024
    # A subscription filter ([filter=...]name): its terms (fields, literals and operators: what evaluating it
    # visits) and its nesting (parentheses, `!` and JSON literals); 40010 beyond. Every message published on
    # a channel is evaluated by each distinct filter following it, so their terms together are bounded too:
    # a derived channel whose filter would take them past filter_terms_per_channel is refused with 42910.
    filter_terms: int = 128
    filter_nesting_depth: int = 16
    filter_terms_per_channel: int = 512
    # Channel history: per channel in events (a publish or presence change) and bytes, and for the whole
    # service (every app's channels, sandbox apps included: the oldest event of any app goes first).
    history_events_per_channel: int = 10_000
    history_bytes_per_channel: int = 16 * MiB
    history_bytes_total: int = 128 * MiB
    # How long history is kept: Ably's default without a persistence rule, and with one.
    history_retention_ms: int = 2 * 60 * 1000
    persisted_history_retention_ms: int = 24 * 60 * 60 * 1000
    # Presence members per channel, and the bytes they hold per channel and in all (every app's); 91003.
    presence_members_per_channel: int = 1_000
    presence_bytes_per_channel: int = 16 * MiB
    presence_bytes_total: int = 128 * MiB
    # Live connections per app (40150; as many more may wait to resume), and channels one connection
    # may have attached (90010; Ably's 200 on every package).
    connections_per_app: int = 10_000
    channels_per_connection: int = 200
    # Live connections of every app together (40111, as Ably refuses past an account's limit), and as many
    # more waiting to resume (the longest-lost, whichever app's, goes first).
    connections_total: int = 10_000
    # Active channels of every app together (attached, or holding history or presence; a few KiB each):
    # making one more is refused with 90021, Ably's account-wide channel creation limit, until some go.
    channels_total: int = 50_000
    # Publishes one connection may make a second (a publish is one MESSAGE protocol message, however many
    # messages it carries): Ably's per-connection inbound message rate; 42911 beyond it, nonfatal. A JWT's
    # `ably.limits.publish.perAttachment.maxRate.<resource>` narrows it per attachment (`rate_limits`).
    connection_publish_rate: float = 50.0
    # Protocol messages of any kind one connection may send a second; past it the connection is closed
    # with 42924. Advertised to clients as connectionDetails.maxInboundRate.
    inbound_protocol_message_rate: float = 2_000.0
    # A connection publishing at about this many times a publish rate is closed with 42921.
    fatal_rate_multiple: int = 20
    # Frames waiting for a client that does not read; past this it is disconnected with 80020.
    outbound_buffer_bytes: int = 4 * MiB
    # Frames waiting for every connection of every app together; past this the connection holding most
    # is disconnected with 80020, so that many clients that do not read cannot add up to more.
    outbound_bytes_total: int = 64 * MiB
    # What one attach queues at once for its joiner, its replay (rewind or resumed gap) and the first pages
    # of the presence SYNC; never more than half the outbox's free room. A replay is cut to it, newest kept
    # (90004 on the ATTACHED); the rest of a SYNC follows as the client reads.
    attach_burst_bytes: int = 1 * MiB
    # Mutable messages, per message: its versions (each kept whole, an appended one as joined: the joined
    # message is bounded by max_message_size, 40009) and its annotations, in count and bytes; 42910 beyond.
    # History is charged for every version and annotation too, so they count in its totals.
    versions_per_message: int = 1_000
    version_bytes_per_message: int = 4 * MiB
    annotations_per_message: int = 1_000
    annotation_bytes_per_message: int = 256 * KiB
    # Live tokens per app, in count and bytes (a token's capability is as large as the TokenRequest asked),
    # and their bytes for every app together; requestToken beyond any is refused with 42910.
    tokens_per_app: int = 100_000
    token_bytes_per_app: int = 64 * MiB
    token_bytes_total: int = 128 * MiB
    # Apps a sandbox may hold at once (POST /apps, the service's own app included); 42910 beyond. What they
    # hold counts toward the service's totals (the *_total limits), as the service's own app does.
    sandbox_apps: int = 1_000
    # What the sandbox's apps keep of their specs (keys with their capabilities, namespaces), every app's
    # together: anyone may make an app, and each may bring a request body's worth; 42910 beyond.
    sandbox_bytes_total: int = 64 * MiB
    # GET /stats: per-minute records kept per app (sandbox fixtures from POST /stats, and counted traffic),
    # in minutes and bytes, and their bytes for every app together; past any, the app's oldest minute is
    # forgotten first.
    stats_minutes_per_app: int = 10_000
    stats_bytes_per_app: int = 4 * MiB
    stats_bytes_total: int = 32 * MiB
    # Idempotent publishing: a message id published on a channel again within the window is acknowledged
    # but not delivered twice (Ably's window is 2 minutes). Ids remembered per app, in count and bytes, and
    # their bytes for every app together; past any, the app's oldest is forgotten first.
    idempotency_window_ms: int = 2 * 60 * 1000
    idempotency_ids_per_app: int = 100_000
    idempotency_bytes_per_app: int = 16 * MiB
    idempotency_bytes_total: int = 64 * MiB
    # One batch request: channels summed over a batch publish's specs or in a batch presence query (90010
    # beyond), targets in a token revocation (40000 beyond). The body is bounded by max_frame_size like any
    # other.
    batch_items_per_request: int = 1_000
    # The messages one batch publish publishes, each counted once per channel its spec sends it to (40034
    # beyond): the work a request causes, which a small body can multiply by its channels.
    batch_messages_per_request: int = 1_000
    # Token revocations in force per app, in count and bytes (their targets), and their bytes for every app
    # together; 42910 beyond. Each is kept until every token it can match has expired.
    revocations_per_app: int = 10_000
    revocation_bytes_per_app: int = 4 * MiB
    revocation_bytes_total: int = 16 * MiB

    def history_retention(self, persisted: bool) -> int:
        return self.persisted_history_retention_ms if persisted else self.history_retention_ms


def limits_with(settings: Iterable[str]) -> Limits:
    """The default limits with each `name=value` setting applied (the command's `--limit`, the pytest
    plugin's `ably_local_limits`); an unknown name, or a value that is not a positive number of the
    limit's kind, is a ValueError naming it."""
    kinds = {field.name: field.type for field in dataclasses.fields(Limits)}
    changed: dict[str, Any] = {}
    for setting in settings:
        name, _, text = (part.strip() for part in setting.partition("="))
        if name not in kinds:
            raise ValueError(f"{name!r} is not a limit (see the limits table in docs/local-service.md)")
        # Typed Any, not float: compiled, a float variable would turn an int limit's value into a float.
        value: Any
        try:
            value = float(text) if kinds[name] in (float, "float") else int(text)
        except ValueError:
            raise ValueError(f"{name} needs a number, not {text!r}") from None
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive, finite number")
        changed[name] = value
    return dataclasses.replace(Limits(), **changed)


# Counted toward history on top of the messages' own sizes: the bookkeeping Python keeps for each.
EVENT_OVERHEAD_BYTES = 512
ITEM_OVERHEAD_BYTES = 256
