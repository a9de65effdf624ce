"""The per-client token bucket: a burst, then the sustained rate; clients apart; memory bounded; off by default."""

from __future__ import annotations

from laip.api.ratelimit import RateLimit, RateLimiter, rate_limit
from laip.config import load_settings


def test_burst_then_rate_per_client() -> None:
    limiter = RateLimiter(RateLimit(per_second=2, burst=3))
    assert [limiter.retry_after("a", 0.0) for _ in range(3)] == [None, None, None]
    wait = limiter.retry_after("a", 0.0)
    assert wait is not None and 0.4 < wait <= 0.5
    assert limiter.retry_after("b", 0.0) is None  # another client has its own bucket
    assert limiter.retry_after("a", 0.5) is None  # one token back after 1 / rate seconds
    assert limiter.retry_after("a", 0.5) is not None


def test_buckets_are_bounded() -> None:
    limiter = RateLimiter(RateLimit(per_second=1, burst=1), max_clients=100)
    for i in range(1000):
        limiter.retry_after(f"10.0.{i // 256}.{i % 256}", 0.0)
    assert len(limiter.buckets) == 100


def test_off_by_default() -> None:
    assert not RateLimiter(rate_limit(load_settings())).enabled
