"""When to restart a component of `dcos-py up` that exited (sans-IO).

Called by: `dcos.cli.supervisor.Supervisor.watch`, each time a component it watches exits,
with that component's recent exit times. The answer is a delay before the restart, or why
the component is given up on.

The policy: a component that exits is restarted after ``initial_s * factor**(n-1)`` seconds
(capped at `max_delay_s`), where n counts its exits within the last `window_s` seconds: 1 s,
2 s, 4 s, ... for a component that keeps crashing, 1 s again for one that ran well for a
while. A component that exited more than `max_restarts` times within `window_s` is in a crash
loop and given up on: restarting it again would only hide the fault, so `up` reports it with
the end of its log (and, for a critical component -- the master, the agents, the webapp --
stops the cluster; a non-critical one -- DNS, the batch dispatcher, the load balancer -- is
left stopped while the rest keeps running). ``max_restarts=0`` turns restarts off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    """Backoff and crash-loop limit of component restarts (see the module)."""

    initial_s: float = 1.0
    factor: float = 2.0
    max_delay_s: float = 30.0
    max_restarts: int = 5
    window_s: float = 120.0


NEVER_RESTART = RestartPolicy(max_restarts=0)
DEFAULT_RESTART = RestartPolicy()


@dataclass(frozen=True)
class RestartDecision:
    """Restart after `delay_s` seconds, or (`delay_s` None) do not, because of `reason`."""

    delay_s: float | None
    reason: str = ""


def decide_restart(policy: RestartPolicy, exits: Sequence[float], now: float) -> RestartDecision:
    """The decision for a component whose exit times (monotonic seconds, the latest being
    `now`) are `exits`."""
    if policy.max_restarts <= 0:
        return RestartDecision(None, "restarts are off")
    recent = [t for t in exits if now - t <= policy.window_s]
    n = max(1, len(recent))
    if n > policy.max_restarts:
        return RestartDecision(
            None, f"it exited {n} times within {policy.window_s:g} s (crash loop)")
    try:
        delay = policy.initial_s * policy.factor ** (n - 1)
    except OverflowError:
        delay = policy.max_delay_s
    return RestartDecision(min(policy.max_delay_s, delay))
