"""Exponential backoff with jitter: the one retry-delay policy for reconnects and retries.

Called by: the agent's re-subscription to the master (so that after a master restart the
agents do not all come back at the same instant), the SDK's scheduler and executor drivers,
the SSE event follower (DNS, load balancer) and the webapp's event callbacks.

`Backoff.next()` returns ``initial * factor**n`` capped at `maximum`, "equal jitter": drawn
uniformly from the upper half of that bound, so delays still grow but never synchronise.
`reset()` starts again from `initial` (after a success). Pass a seeded `random.Random` for
reproducible tests.
"""

from __future__ import annotations

import random

_MAX_STEPS = 1000  # the exponent stops growing here (the cap is long reached by then)


def jittered(delay: float, rng: random.Random | None = None) -> float:
    """`delay` with equal jitter: uniform in ``[delay / 2, delay]``."""
    return (rng or random).uniform(delay / 2, delay)


class Backoff:
    """Created by whoever retries; `next()` before each retry, `reset()` after a success."""

    def __init__(
        self,
        initial: float = 0.1,
        maximum: float = 10.0,
        *,
        factor: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if initial < 0 or maximum < 0 or factor < 1:
            raise ValueError(
                f"bad backoff: initial={initial} maximum={maximum} factor={factor} "
                "(need initial >= 0, maximum >= 0, factor >= 1)"
            )
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._rng = rng or random.Random()
        self._n = 0

    @property
    def attempts(self) -> int:
        """How many delays `next()` handed out since the last `reset()`."""
        return self._n

    def bound(self) -> float:
        """The un-jittered delay the next `next()` draws below (``initial * factor**n``, capped)."""
        try:
            return min(self.maximum, self.initial * self.factor ** min(self._n, _MAX_STEPS))
        except OverflowError:
            return self.maximum

    def next(self) -> float:
        """The delay before the next attempt (seconds, jittered); advances the exponent."""
        cap = self.bound()
        self._n += 1
        return jittered(cap, self._rng)

    def reset(self) -> None:
        """Start again from `initial` (called after a successful attempt)."""
        self._n = 0
