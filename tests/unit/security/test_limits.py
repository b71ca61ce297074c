from __future__ import annotations

import pytest

from dcos.security.limits import RateLimiter, StreamLimiter


def test_token_bucket_burst_then_rate() -> None:
    limiter = RateLimiter(rate_per_s=10, burst=5)
    assert all(limiter.allow("fw", now=100.0) for _ in range(5))
    assert not limiter.allow("fw", now=100.0)
    assert limiter.retry_after("fw", now=100.0) == pytest.approx(0.1)
    assert limiter.retry_after_header("fw", now=100.0) == "1"
    assert limiter.allow("other", now=100.0)  # per key
    assert not limiter.allow("fw", now=100.05)
    assert limiter.allow("fw", now=100.1)
    assert not limiter.allow("fw", now=100.1)
    assert all(limiter.allow("fw", now=200.0) for _ in range(5))  # refilled, capped at burst
    assert not limiter.allow("fw", now=200.0)


def test_denied_calls_take_nothing_and_idle_keys_are_forgotten() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1, max_keys=3)
    assert limiter.allow("a", now=0.0)
    for _ in range(100):
        assert not limiter.allow("a", now=0.5)
    assert limiter.allow("a", now=1.0)
    for i in range(10):
        limiter.allow(f"k{i}", now=100.0 + i * 10)
    assert len(limiter) <= 4
    with pytest.raises(ValueError):
        RateLimiter(rate_per_s=0, burst=1)


def test_stream_limiter() -> None:
    streams = StreamLimiter(max_per_key=2)
    assert streams.acquire("p") and streams.acquire("p")
    assert not streams.acquire("p")
    assert streams.acquire("q")
    streams.release("p")
    assert streams.count("p") == 1 and streams.acquire("p")
    streams.release("p"), streams.release("p"), streams.release("p")
    assert streams.count("p") == 0
    streams.release("never")
