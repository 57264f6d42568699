"""Per-client rate limits (token buckets), in the memory of one worker process.

A bucket holds up to ``burst`` tokens and refills at ``per_minute``; each limited action
takes one. Time comes from the app's clock (tests pin it; then nothing refills). The
buckets of clients not seen for a while are forgotten, so memory stays bounded. Several
workers each keep their own buckets: a client gets at most ``workers ×`` the rate, which is
still a bound; the limits that must hold across workers live in the database (logins,
subscriptions).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import Request

from huiqi.errors import Message, RateLimited


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, per_minute: float, burst: int, *, max_clients: int = 10_000):
        self.rate = per_minute / 60.0
        self.burst = burst
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str, now: float, *, peek: bool = False) -> float:
        """Take a token for ``client`` (only look, with ``peek``); returns 0, or the seconds
        until one is available."""
        with self._lock:
            bucket = self._buckets.pop(client, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + max(0.0, now - bucket.at) * self.rate)
            bucket.at = now
            self._buckets[client] = bucket
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1:
                if not peek:
                    bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate if self.rate > 0 else 3600.0

    def check(self, client: str, now: float, message: Message, *, peek: bool = False) -> None:
        """Raise :class:`RateLimited` when ``client`` has no token left (else take one, unless ``peek``)."""
        wait = self.take(client, now, peek=peek)
        if wait > 0:
            raise RateLimited(message, retry_after=int(wait) + 1)


def guarded(request: Request, limiter: RateLimiter, message: Message) -> tuple[str, float]:
    """Refuse a client whose failures used up ``limiter``; returns (client, now) to count the next one."""
    client = client_address(request)
    now = float(request.app.state.clock.now().timestamp())
    limiter.check(client, now, message, peek=True)
    return client, now


def client_address(request: Request) -> str:
    """The client's address as the server saw it (behind a proxy: as the proxy reported it)."""
    return request.client.host if request.client else "?"
