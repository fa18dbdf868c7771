"""How one app's service behaves: Ably's timings, the limits, and the rules its namespaces have."""

from dataclasses import dataclass, field

from ably_local.limits import Limits


@dataclass(frozen=True)
class ServiceConfig:
    connection_state_ttl_ms: int = 120_000
    max_idle_interval_ms: int = 15_000
    presence_grace_ms: int = 15_000
    # Ask a client to renew its token this long before expiry, when the token lives longer than that.
    token_renewal_lead_ms: int = 30_000
    server_id: str = "ably-local"
    limits: Limits = field(default_factory=Limits)
    # Channel namespaces whose history is kept for the persisted retention (sandbox apps).
    persisted_namespaces: frozenset[str] = frozenset()
    # Channel namespaces whose messages may be updated, deleted, appended to and annotated.
    mutable_namespaces: frozenset[str] = frozenset()
