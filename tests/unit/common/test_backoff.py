"""dcos.common.backoff: exponential backoff with equal jitter."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcos.common.backoff import Backoff, jittered


def test_grows_to_the_cap_with_jitter_and_resets():
    b = Backoff(0.1, 5.0, rng=random.Random(1))
    bounds = []
    for _ in range(12):
        cap = b.bound()
        d = b.next()
        assert cap / 2 <= d <= cap
        bounds.append(cap)
    assert bounds[:4] == [0.1, 0.2, 0.4, 0.8]
    assert bounds[-1] == 5.0
    b.reset()
    assert b.bound() == 0.1 and b.attempts == 0


def test_factor():
    b = Backoff(1.0, 100.0, factor=3.0, rng=random.Random(0))
    b.next()
    assert b.bound() == 3.0


def test_agents_sharing_a_schedule_do_not_reconnect_together():
    delays = {round(Backoff(0.1, 5.0, rng=random.Random(seed)).next(), 9) for seed in range(50)}
    assert len(delays) > 40


def test_seeded_is_reproducible():
    a = Backoff(0.1, 5.0, rng=random.Random(7))
    b = Backoff(0.1, 5.0, rng=random.Random(7))
    assert [a.next() for _ in range(5)] == [b.next() for _ in range(5)]


@pytest.mark.parametrize(("i", "m", "f"), [(-1, 1, 2), (1, -1, 2), (1, 2, 0.5)])
def test_rejects_bad_parameters(i, m, f):
    with pytest.raises(ValueError):
        Backoff(i, m, factor=f)


def test_maximum_below_initial_caps_every_delay():
    b = Backoff(1.0, 0.05, rng=random.Random(0))
    assert all(b.next() <= 0.05 for _ in range(5))


def test_many_steps_do_not_overflow():
    b = Backoff(0.1, 5.0, rng=random.Random(0))
    for _ in range(5000):
        assert b.next() <= 5.0


@given(st.floats(0, 1e6), st.integers(0, 2**32))
def test_jittered_stays_in_the_upper_half(delay, seed):
    d = jittered(delay, random.Random(seed))
    assert delay / 2 <= d <= delay
