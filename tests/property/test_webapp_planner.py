"""Property tests of the pure planner: scaling never overshoots; a rolling upgrade never
drops below minimumHealthCapacity, never exceeds instances * (1 + maximumOverCapacity), and
finishes."""

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from frameworks.webapp.planner import (
    InstanceView,
    bounds,
    plan_restart,
    plan_scale,
    restart_done,
)  # fmt: skip


@given(st.integers(0, 30), st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), max_size=40))
def test_scale_never_launches_more_than_asked(n, flags):
    tasks = [InstanceView(f"t{i}", True, h, h, k, r, float(i)) for i, (h, k, r) in enumerate(flags)]
    plan = plan_scale(n, tasks)
    usable = [t for t in tasks if not t.killing and not t.replace]
    killed_usable = [t for t in usable if t.id in plan.kill]
    if len(usable) < n:
        assert plan.launch == n - len(usable) and not killed_usable
    else:
        assert plan.launch == 0 and len(usable) - len(killed_usable) == n
    assert set(plan.kill) <= {t.id for t in tasks if not t.killing}


def simulate(n, min_h, max_o, seed, start_old):
    """Run a rolling upgrade with random task progress; check the bounds at each plan."""
    rnd = random.Random(seed)
    low, high = bounds(n, min_h, max_o)
    tasks = {f"old{i}": InstanceView(f"old{i}", False, True, True, staged_at=i) for i in range(start_old)}
    seq = 0
    deadlock = high <= low  # no room either way: Marathon kills one (allowed to dip by one)
    for _ in range(400):
        views = list(tasks.values())
        if restart_done(n, views):
            return True
        plan = plan_restart(n, views, min_h, max_o)
        for tid in plan.kill:
            t = tasks[tid]
            tasks[tid] = InstanceView(t.id, t.current, t.healthy, t.ready, True, t.replace, t.staged_at)
        for _ in range(plan.launch):
            seq += 1
            tasks[f"new{seq}"] = InstanceView(f"new{seq}", True, False, False, staged_at=100 + seq)
        views = list(tasks.values())
        if plan.launch:  # launches never take the app above the maximum
            assert len(views) <= high, (len(views), high)
        if start_old <= high:
            assert len(views) <= high, (len(views), high)
        healthy = sum(1 for t in views if not t.killing and ((t.current and t.ready) or (not t.current and t.healthy)))
        if start_old >= low and not deadlock:
            assert healthy >= low, (healthy, low)
        elif deadlock:
            assert healthy >= low - 1
        # progress: some killing tasks die, some new tasks become ready
        for tid, t in list(tasks.items()):
            if t.killing and rnd.random() < 0.6:
                del tasks[tid]
            elif t.current and not t.ready and rnd.random() < 0.6:
                tasks[tid] = InstanceView(t.id, True, True, True, False, False, t.staged_at)
    return False


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 20), st.floats(0, 1), st.floats(0, 1), st.integers(0, 1000))
def test_rolling_upgrade_respects_capacity_and_finishes(n, min_h, max_o, seed):
    assert simulate(n, min_h, max_o, seed, start_old=n)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 12), st.integers(0, 12), st.integers(0, 100))
def test_upgrade_with_scale_change_finishes(n, old, seed):
    assert simulate(n, 0.5, 0.5, seed, start_old=old)


def test_bounds_marathon_arithmetic():
    assert bounds(10, 0.66, 0.34) == (math.ceil(6.6), 13)
    assert bounds(3, 1.0, 0.0) == (3, 3)
