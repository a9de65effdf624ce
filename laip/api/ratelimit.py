"""Per-client rate limit of the API: a token bucket per client address, in each worker process.

``api.rate_limit_per_second`` tokens flow into each client's bucket, which holds at most ``api.rate_limit_burst``;
a request takes one, and a client with an empty bucket gets 429 with ``Retry-After``. Off (0) by default: the
local default binds loopback and the load benchmark runs from one address. Behind a reverse proxy every request
comes from the proxy's address, so set the limit there instead. With N workers a client may get up to N times the
rate (each process keeps its own buckets). At most ``max_clients`` buckets are kept (least recently seen dropped),
so a flood of addresses cannot grow memory without bound.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from laip.config import Settings


@dataclass(frozen=True)
class RateLimit:
    per_second: float  # 0: off
    burst: int


def rate_limit(settings: Settings) -> RateLimit:
    cfg = settings.raw.get("api", {}) or {}
    return RateLimit(float(cfg.get("rate_limit_per_second", 0) or 0), int(cfg.get("rate_limit_burst", 20)))


class RateLimiter:
    """Token buckets keyed by client address."""

    def __init__(self, limit: RateLimit, max_clients: int = 10_000):
        self.limit = limit
        self.max_clients = max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.limit.per_second > 0

    def retry_after(self, client: str, now: float) -> float | None:
        """None when ``client`` may send a request now (one token taken), else the seconds until it may."""
        rate, burst = self.limit.per_second, float(max(self.limit.burst, 1))
        tokens, at = self.buckets.pop(client, (burst, now))
        tokens = min(burst, tokens + (now - at) * rate)
        allowed = tokens >= 1.0
        self.buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        if len(self.buckets) > self.max_clients:
            self.buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / rate
