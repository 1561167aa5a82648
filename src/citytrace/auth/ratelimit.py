"""In-process token buckets: enough for one service process; several would need a shared store."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Buckets of ``capacity`` tokens per key, refilled at ``per_min`` tokens a minute.

    Each request takes one token; an empty bucket refuses and says how long until the next
    token. Full buckets are forgotten now and then, so memory stays bounded by active keys.
    """

    def __init__(
        self,
        per_min: int,
        *,
        capacity: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if per_min < 1:
            raise ValueError("per_min must be at least 1")
        self.capacity = float(capacity or per_min)
        self.rate_per_s = per_min / 60.0
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 if granted, otherwise the seconds to wait."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > self._max_keys:
                    self._forget_full(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate_per_s

    def _forget_full(self, now: float) -> None:
        full = [
            key
            for key, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate_per_s >= self.capacity
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) > self._max_keys:
            # Still too many (a flood of distinct keys): keep the most recently used half.
            recent = sorted(self._buckets.items(), key=lambda item: item[1][1], reverse=True)
            self._buckets = dict(recent[: self._max_keys // 2])


def retry_after_s(wait_s: float) -> int:
    """Seconds for a ``Retry-After`` header: whole, and at least one."""
    return max(1, math.ceil(wait_s))


class RateLimits:
    """The service's buckets: logins per client and per username, public requests per client."""

    def __init__(
        self,
        *,
        login_per_client_per_min: int,
        login_per_username_per_min: int,
        public_per_client_per_min: int,
    ) -> None:
        self.login_client = TokenBucket(login_per_client_per_min)
        self.login_username = TokenBucket(login_per_username_per_min)
        self.public_client = TokenBucket(public_per_client_per_min)

    @classmethod
    def from_settings(cls) -> RateLimits:
        from citytrace.config import get_settings

        s = get_settings()
        return cls(
            login_per_client_per_min=s.login_rate_per_client_per_min,
            login_per_username_per_min=s.login_rate_per_username_per_min,
            public_per_client_per_min=s.public_rate_per_client_per_min,
        )
