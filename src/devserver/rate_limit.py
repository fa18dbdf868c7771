"""Per-address rate limits on functions, as Netlify applies a function's declared `config.rateLimit`.

Netlify counts the requests to a function per client address (and site domain) in a sliding window and
answers 429 past the limit, before the function runs. The dev server applies the same declaration
(function_config.py reads it from the function's entry) the same way, so a page's handling of a 429 can be
seen and tested locally. The counting is a plain object with an injectable clock; `FunctionRateLimits` is
the thin part that answers requests.
"""

import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from devserver.errors import error_response
from devserver.host_check import host_name, is_loopback_name
from devserver.limits import MAX_RATE_LIMIT_ENTRIES

log = logging.getLogger("devserver")

AGGREGATORS = ("ip", "domain")  # what Netlify can count per: the client address, the site domain
RATE_LIMITED = 42910  # Ably's "rate limit exceeded (nonfatal): request rejected" (ably-common errors.json)


@dataclass(frozen=True)
class RateLimit:
    """At most `window_limit` requests in any `window_size_s` seconds, counted per `aggregate_by`."""

    window_limit: int
    window_size_s: float
    aggregate_by: tuple[str, ...] = AGGREGATORS


class SlidingWindowLimiter:
    """Counts requests per key: one is admitted while fewer than `limit` were admitted in the `window_s`
    seconds before it. Refused requests are not counted, so a client that waits as told gets in.

    Memory is bounded: it keeps the times of at most `limit` requests per key, and at most `max_entries`
    times in all; past that it forgets the keys seen least recently.
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        max_entries: int = MAX_RATE_LIMIT_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a rate limit needs a limit of at least 1 and a window above 0 seconds")
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max(1, max_entries // limit)
        self._clock = clock
        self._admitted: OrderedDict[str, deque[float]] = OrderedDict()  # least recently seen first

    def acquire(self, key: str) -> float:
        """Admit a request (0.0) or refuse it: then the seconds until one would be admitted."""
        now = self._clock()
        times = self._admitted.get(key)
        if times is None:
            self._make_room(now)
            times = self._admitted[key] = deque()  # never more than limit: refusals are not kept
        self._admitted.move_to_end(key)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.limit:
            return times[0] + self.window_s - now
        times.append(now)
        return 0.0

    @property
    def tracked_keys(self) -> int:
        return len(self._admitted)

    def _make_room(self, now: float) -> None:
        """Drop keys with nothing left in the window (they are the least recently seen, so at the front),
        then, still full, the key seen least recently."""
        while self._admitted:
            oldest = next(iter(self._admitted.values()))
            if oldest and oldest[-1] > now - self.window_s:
                break
            self._admitted.popitem(last=False)
        while len(self._admitted) >= self.max_keys:
            self._admitted.popitem(last=False)


class FunctionRateLimits:
    """The declared limits of the functions that have one, applied before a function runs."""

    def __init__(
        self, limits: Mapping[str, RateLimit], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = dict(limits)
        self._limiters = {
            name: SlidingWindowLimiter(limit.window_limit, limit.window_size_s, clock=clock)
            for name, limit in self.limits.items()
        }
        self._refusing: set[tuple[str, str]] = set()  # (function, key) told once per run of refusals

    def refusal(self, name: str, request: Request) -> Response | None:
        """None to let the request through; past the limit, Netlify's 429, in Ably's error shape."""
        limiter = self._limiters.get(name)
        if limiter is None:
            return None
        limit = self.limits[name]
        key = self._key(limit, request)
        wait_s = limiter.acquire(key)
        if not wait_s:
            self._refusing.discard((name, key))
            return None
        retry_after = math.ceil(wait_s)  # whole seconds, never early: a refusal waits more than 0 s
        self._report(name, key, limit, retry_after)
        response = error_response(
            429,
            f"Too many requests to {name} from this address: the limit is {limit.window_limit} in "
            f"{limit.window_size_s:g} s (its config.rateLimit, which Netlify applies). "
            f"Retry after {retry_after} s.",
            code=RATE_LIMITED,
        )
        # Not mutated: header names are case-insensitive (Starlette lower-cases them), and so is the
        # directive; the tests hold both values.
        response.headers["Retry-After"] = str(retry_after)  # pragma: no mutate
        response.headers["Cache-Control"] = "no-store"  # pragma: no mutate
        return response

    @staticmethod
    def _key(limit: RateLimit, request: Request) -> str:
        """The client's address (the connection's: serving.py believes no forwarding header) and/or the site
        domain asked for. Every loopback name reaches the one site make dev serves, however the client spells
        it in Host (case, port, trailing dot, any *.localhost), so they count as one domain."""
        # Not mutated: header names are case-insensitive, and any one default counts requests without a
        # Host (HTTP/1.0) or a client address (not a TCP connection) together, as this one does.
        host = host_name(request.headers.get("host", ""))  # pragma: no mutate
        parts = {
            "ip": request.client.host if request.client is not None else "",  # pragma: no mutate
            "domain": "localhost" if is_loopback_name(host) else host,
        }
        return " ".join(parts[name] for name in limit.aggregate_by)

    def _report(self, name: str, key: str, limit: RateLimit, retry_after: int) -> None:
        if (name, key) in self._refusing or len(self._refusing) >= MAX_RATE_LIMIT_ENTRIES:
            return
        self._refusing.add((name, key))
        log.warning(
            "%s: more than %d requests in %g s from %s; answering 429 (Retry-After %d s), as Netlify would",
            name,
            limit.window_limit,
            limit.window_size_s,
            key,
            retry_after,
        )
