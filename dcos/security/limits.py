"""Abuse limits (sans-IO): per-key call rates (`RateLimiter`) and open streams
(`StreamLimiter`).

Called by the master's scheduler API (per framework/principal: 429 with ``Retry-After`` when
`allow` says no), and by every endpoint that holds an event stream open (scheduler and
operator SUBSCRIBE, webapp ``/v2/events``: `acquire` before, `release` when the stream ends).
Keys are principals when security is on, peer addresses when it is off. `now` comes from the
caller's clock.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

DEFAULT_RATE_PER_S = 200.0
DEFAULT_BURST = 400
DEFAULT_MAX_STREAMS = 16
EPSILON = 1e-9  # refills summed from float time steps
MAX_KEYS = 10_000  # buckets kept before full (idle) ones are forgotten


class RateLimiter:
    """A token bucket per key: `burst` calls at once, then `rate_per_s` on average."""

    def __init__(self, rate_per_s: float = DEFAULT_RATE_PER_S,
                 burst: float = DEFAULT_BURST, *, max_keys: int = MAX_KEYS) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, at)

    def _tokens(self, key: Hashable, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - at) * self.rate_per_s)

    def allow(self, key: Hashable, now: float) -> bool:
        """Take one token for `key`; False (take nothing) when its bucket is empty."""
        tokens = self._tokens(key, now)
        if tokens < 1.0 - EPSILON:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (max(0.0, tokens - 1.0), now)
        if len(self._buckets) > self.max_keys:
            self._forget_full(now)
        return True

    def retry_after(self, key: Hashable, now: float) -> float:
        """Seconds until `key` may call again (0 if it may now)."""
        missing = 1.0 - self._tokens(key, now)
        return 0.0 if missing <= EPSILON else missing / self.rate_per_s

    def retry_after_header(self, key: Hashable, now: float) -> str:
        """The ``Retry-After`` value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(self.retry_after(key, now))))

    def _forget_full(self, now: float) -> None:
        full = [k for k in self._buckets if self._tokens(k, now) >= self.burst]
        for k in full:
            del self._buckets[k]

    def __len__(self) -> int:
        return len(self._buckets)


class StreamLimiter:
    """At most `max_per_key` open streams per key."""

    def __init__(self, max_per_key: int = DEFAULT_MAX_STREAMS) -> None:
        if max_per_key < 1:
            raise ValueError("max_per_key must be >= 1")
        self.max_per_key = max_per_key
        self._open: dict[Hashable, int] = {}

    def acquire(self, key: Hashable) -> bool:
        """Count one more open stream for `key`; False (count nothing) at the limit."""
        count = self._open.get(key, 0)
        if count >= self.max_per_key:
            return False
        self._open[key] = count + 1
        return True

    def release(self, key: Hashable) -> None:
        """One of `key`'s streams ended (safe to call for unknown keys)."""
        count = self._open.get(key, 0) - 1
        if count > 0:
            self._open[key] = count
        else:
            self._open.pop(key, None)

    def count(self, key: Hashable) -> int:
        return self._open.get(key, 0)
