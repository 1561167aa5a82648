"""Token buckets for rate limits: in the process by default, or shared in Redis.

One service process keeps its buckets in memory. Several processes (uvicorn workers, or several
machines behind a proxy) share them through Redis when ``CITYTRACE_REDIS_URL`` is set, so that a
client gets the same limit whichever process answers. Redis holds only a keyed hash of each
bucket's key (a client address or a username is personal data), never the key itself. When Redis
cannot be reached a bucket falls back to its process's own memory for a while and logs it: limits
keep working, per process, rather than every login failing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Bucket(Protocol):
    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 if granted, otherwise the seconds to wait."""
        ...


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


# Atomic in Redis: refill by the time since the last take, take one token or say the wait.
# Numbers travel as strings: Redis would truncate a Lua number to an integer.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'l')
local tokens = tonumber(state[1]) or capacity
local last = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - last) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'l', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return tostring(wait)
"""
RETRY_REDIS_S = 30.0
"""After Redis failed, buckets use process memory for this long before trying Redis again."""


class RedisTokenBucket:
    """:class:`TokenBucket`'s rule, with the buckets in Redis: shared by every process.

    Each bucket is a Redis hash under ``citytrace:rl:<name>:<keyed hash of the key>`` that
    expires once it would be full again.
    """

    def __init__(
        self,
        client: Any,
        name: str,
        per_min: int,
        *,
        secret: bytes,
        capacity: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if per_min < 1:
            raise ValueError("per_min must be at least 1")
        self.capacity = float(capacity or per_min)
        self.rate_per_s = per_min / 60.0
        self._client = client
        self._name = name
        self._secret = secret
        self._clock = clock
        self._script = client.register_script(_TAKE)
        self._fallback = TokenBucket(per_min, capacity=capacity)
        self._redis_down_until = 0.0

    def _redis_key(self, key: str) -> str:
        digest = hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()[:32]
        return f"citytrace:rl:{self._name}:{digest}"

    def take(self, key: str) -> float:
        now = time.monotonic()
        if now < self._redis_down_until:
            return self._fallback.take(key)
        try:
            wait = self._script(
                keys=[self._redis_key(key)],
                args=[repr(self.capacity), repr(self.rate_per_s), repr(self._clock())],
            )
        except Exception as exc:  # redis.RedisError, or the connection refused
            log.warning(
                "rate limits: Redis unavailable (%s); this process limits on its own for %.0f s",
                type(exc).__name__,
                RETRY_REDIS_S,
            )
            self._redis_down_until = now + RETRY_REDIS_S
            return self._fallback.take(key)
        return float(wait)


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
        redis_url: str | None = None,
        secret: bytes = b"",
    ) -> None:
        rates = {
            "login_client": login_per_client_per_min,
            "login_username": login_per_username_per_min,
            "public_client": public_per_client_per_min,
        }
        buckets: dict[str, Bucket]
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
            buckets = {
                name: RedisTokenBucket(client, name, rate, secret=secret)
                for name, rate in rates.items()
            }
        else:
            buckets = {name: TokenBucket(rate) for name, rate in rates.items()}
        self.shared = bool(redis_url)
        self.login_client = buckets["login_client"]
        self.login_username = buckets["login_username"]
        self.public_client = buckets["public_client"]

    @classmethod
    def from_settings(cls) -> RateLimits:
        from citytrace.config import get_settings

        s = get_settings()
        secret = b""
        if s.redis_url:
            from citytrace.security.keys import get_keyring

            secret = get_keyring().keyed_hash("rate-limit", "bucket-key").encode()
        return cls(
            login_per_client_per_min=s.login_rate_per_client_per_min,
            login_per_username_per_min=s.login_rate_per_username_per_min,
            public_per_client_per_min=s.public_rate_per_client_per_min,
            redis_url=s.redis_url,
            secret=secret,
        )
