"""Rate limits shared by several service processes through the real Redis, holding no client
address or username; and limits that keep working when Redis is gone."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from citytrace.auth.ratelimit import RateLimits, RedisTokenBucket
from tests.conftest import _missing


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("CITYTRACE_TEST_REDIS_URL")
    if not url:
        _missing("CITYTRACE_TEST_REDIS_URL is not set: this test needs Redis")
    return str(url)


@pytest.fixture
def client(redis_url: str) -> Iterator[Any]:
    import redis

    connection = redis.Redis.from_url(redis_url)
    yield connection
    for key in connection.scan_iter("citytrace:rl:*"):
        connection.delete(key)


def limits(url: str, secret: bytes) -> RateLimits:
    return RateLimits(
        login_per_client_per_min=3,
        login_per_username_per_min=2,
        public_per_client_per_min=5,
        redis_url=url,
        secret=secret,
    )


class TestSharedBuckets:
    def test_two_processes_share_one_limit(self, redis_url: str, client: Any) -> None:
        secret = uuid.uuid4().bytes
        first, second = limits(redis_url, secret), limits(redis_url, secret)
        assert first.shared and second.shared
        address = f"10.0.0.{uuid.uuid4().int % 250}"
        granted = [(first if n % 2 else second).login_client.take(address) == 0 for n in range(5)]
        # Three a minute in all, not three for each process.
        assert granted == [True, True, True, False, False]
        assert first.login_client.take("another client") == 0

    def test_redis_holds_no_address_or_username(self, redis_url: str, client: Any) -> None:
        shared = limits(redis_url, uuid.uuid4().bytes)
        shared.login_username.take("kim.minji")
        shared.public_client.take("203.0.113.9")
        keys = [k.decode() for k in client.scan_iter("citytrace:rl:*")]
        assert len(keys) == 2
        stored = " ".join(keys) + " ".join(str(client.hgetall(k)) for k in keys)
        assert "kim.minji" not in stored and "203.0.113.9" not in stored

    def test_tokens_come_back_with_time(self, redis_url: str, client: Any) -> None:
        now = [1_000.0]
        import redis

        bucket = RedisTokenBucket(
            redis.Redis.from_url(redis_url),
            f"t{uuid.uuid4().hex}",
            6,  # one token every 10 s
            secret=b"s",
            clock=lambda: now[0],
        )
        assert all(bucket.take("k") == 0 for _ in range(6))
        assert bucket.take("k") == pytest.approx(10.0)
        now[0] += 5
        assert bucket.take("k") == pytest.approx(5.0)
        now[0] += 5
        assert bucket.take("k") == 0

    def test_without_redis_each_process_limits_on_its_own(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        # Nothing listens on port 1: every take falls back to the process's own bucket.
        down = limits("redis://127.0.0.1:1/0", b"s")
        granted = [down.login_client.take("10.1.1.1") == 0 for _ in range(4)]
        assert granted == [True, True, True, False]
        assert "Redis unavailable" in caplog.text
        assert "10.1.1.1" not in caplog.text
