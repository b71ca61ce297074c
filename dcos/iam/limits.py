"""`FailureBuckets`: token buckets per key, for failed logins per uid.

Called by the master's IAM routes (`dcos.master.http.iam`): before checking a password they
ask `available(uid, now)` (429 when not), and after a wrong one they `consume(uid, now)`; a
correct password costs nothing, so guessing is slowed to the refill rate while users who
know their password are never held up. Sans-IO: the caller passes `now`.
"""

from __future__ import annotations


class FailureBuckets:
    """Token buckets per key: failed logins per uid (a correct password costs nothing)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._b: dict[str, tuple[float, float]] = {}

    def _level(self, key: str, now: float) -> float:
        tokens, last = self._b.get(key, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - last) * self.rate)

    def available(self, key: str, now: float) -> bool:
        return self._level(key, now) >= 1.0

    def consume(self, key: str, now: float) -> None:
        self._b[key] = (max(0.0, self._level(key, now) - 1.0), now)
        if len(self._b) > 10000:  # forget full buckets (they equal a fresh one)
            self._b = {k: v for k, v in self._b.items() if self._level(k, now) < self.burst}
