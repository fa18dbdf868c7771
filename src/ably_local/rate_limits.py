"""Rate limits on what one connection sends, as Ably applies them.

- Publishes: every connection may publish `Limits.connection_publish_rate` times a second (Ably's
  per-connection "inbound message rate", 50 on every package). A JWT may narrow that per attachment with
  `ably.limits.publish.perAttachment.maxRate.<channel or namespace>` (publishes a second, `0.1` being one
  every ten seconds; the most specific resource applies, as for channel claims). A publish beyond a rate
  is refused with 42911 (HTTP 429, nonfatal: the connection and its attachments stay); a connection that
  keeps publishing at about `Limits.fatal_rate_multiple` (20) times a rate is closed with 42921.
- Protocol messages: past `Limits.inbound_protocol_message_rate` (2,000) a second, of any kind, the
  connection is closed with 42924, a safeguard against runaway clients.

What counts as one publish is one MESSAGE protocol message, whatever number of messages it carries: Ably's
docs say a publish of several messages at once counts as a single message for its rate limits. Presence and
annotations are not publishes; they count, like everything else, toward the protocol message rate.

Each rate is a token bucket: it holds at most one second's worth of tokens (and at least one), refills at
the rate, and each admitted event takes a token. A client may so send a burst of a second's worth at once
and then keep to the rate, without any window edge to game. Whether to close a connection is measured the
same way on every attempt, refused ones included, at `fatal_rate_multiple` times the rate.
"""

import math
from collections.abc import Mapping
from typing import Any

from ably_local.claims import Scoped
from ably_local.errors import AblyError
from ably_local.limits import Limits

PUBLISH_RATE_PREFIX = "ably.limits.publish.perAttachment.maxRate."
INVALID_JWT = 40144


class RateLimitError(AblyError):
    """A refusal for going too fast; `fatal` ones close the connection."""

    def __init__(self, code: int, message: str, fatal: bool) -> None:
        super().__init__(code, 429, message)
        self.fatal = fatal


def publish_rates(claims: Mapping[str, Any]) -> dict[str, float]:
    """A JWT's per-attachment publish rates by resource; a rate that is not a positive number is an invalid
    JWT (40144), named in the error."""
    rates: dict[str, float] = {}
    for name, value in claims.items():
        if not name.startswith(PUBLISH_RATE_PREFIX):
            continue
        resource = name[len(PUBLISH_RATE_PREFIX) :]
        if (
            not resource
            or isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise AblyError(
                INVALID_JWT,
                401,
                f"Invalid JWT: {name} must name a channel or namespace and be a positive number",
            )
        rates[resource] = float(value)
    return rates


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved up."""

    def __init__(self, rate: float, now: int) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self.tokens = self.burst
        self.updated = now

    def refill(self, now: int) -> float:
        elapsed = now - self.updated
        if elapsed > 0:  # the wall clock may step back; then nothing refills until it catches up
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate / 1000)
            self.updated = now
        return self.tokens

    def take(self, now: int) -> bool:
        if self.refill(now) < 1:
            return False
        self.tokens -= 1
        return True


class PublishRate:
    """One publish rate, and the far larger one at which the connection is closed instead."""

    def __init__(self, rate: float, fatal_multiple: int, now: int) -> None:
        self.rate = rate
        self.allowed = TokenBucket(rate, now)
        self.attempts = TokenBucket(rate * fatal_multiple, now)

    def attempt(self, now: int) -> bool:
        """Count an attempt; False when attempts have run at the fatal rate long enough to close."""
        return self.attempts.take(now)


class InboundRates:
    """One connection's rates: its protocol messages, its publishes, and each attachment's publishes."""

    def __init__(self, limits: Limits, now: int) -> None:
        self.fatal_multiple = limits.fatal_rate_multiple
        self.protocol_rate = limits.inbound_protocol_message_rate
        self.protocol = TokenBucket(self.protocol_rate, now)
        self.publishes = PublishRate(limits.connection_publish_rate, self.fatal_multiple, now)
        self.attachments: dict[str, PublishRate] = {}
        self.max_attachments = limits.channels_per_connection

    def admit_protocol_message(self, now: int) -> None:
        if not self.protocol.take(now):
            raise RateLimitError(
                42924,
                "Connection terminated for abuse "
                f"(inbound protocol message rate exceeded {self.protocol_rate:g}/s)",
                fatal=True,
            )

    def admit_publish(self, channel: str, rates: Scoped[float], now: int) -> None:
        """Admit a publish on a channel, or raise 42911 (refused) or 42921 (the connection is closed)."""
        connection = self.publishes
        rate = rates.on(channel)
        attachment = None if rate is None else self._attachment(channel, rate, now)
        if not connection.attempt(now):
            raise self._fatal(connection)
        if attachment is not None and not attachment.attempt(now):
            raise self._fatal(attachment)
        if connection.allowed.refill(now) < 1:
            raise _refused(connection)
        if attachment is not None and not attachment.allowed.take(now):
            raise _refused(attachment)
        connection.allowed.take(now)

    def _fatal(self, limit: PublishRate) -> RateLimitError:
        return RateLimitError(
            42921,
            "Connection terminated; per-connection publish rate limit exceeded "
            f"{self.fatal_multiple} times over (limit {limit.rate:g}/s)",
            fatal=True,
        )

    def _attachment(self, channel: str, rate: float, now: int) -> PublishRate:
        limit = self.attachments.get(channel)
        if limit is None or limit.rate != rate:  # new, or a renewed token changed the rate
            if limit is None and len(self.attachments) >= self.max_attachments:
                del self.attachments[next(iter(self.attachments))]
            limit = self.attachments[channel] = PublishRate(rate, self.fatal_multiple, now)
        return limit

    def forget(self, channel: str) -> None:
        """A detached channel's rate starts afresh at the next attach."""
        self.attachments.pop(channel, None)


def _refused(limit: PublishRate) -> RateLimitError:
    return RateLimitError(
        42911,
        "Rate limit exceeded; request rejected (nonfatal); "
        f"metric = connection.inboundRate; limit {limit.rate:g}/s",
        fatal=False,
    )
