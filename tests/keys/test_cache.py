"""The per-instance key cache, and revocation reaching an instance without Redis (TTL only)."""

from __future__ import annotations

import asyncio
import time

from app.auth.cache import TTLCache
from app.auth.manage import KeyAdmin
from tests.keys.conftest import HMAC_SECRET, error_of, keyed_app, post


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_single_flight_negative_caching_and_expiry():
    clock, calls = Clock(), []
    cache: TTLCache[str] = TTLCache(ttl=2.0, max_entries=100, clock=clock)

    async def load(key: str) -> str | None:
        calls.append(key)
        await asyncio.sleep(0.01)
        return None if key.startswith("unknown") else f"row:{key}"

    results = await asyncio.gather(*(cache.get("a", load) for _ in range(10)))
    assert results == ["row:a"] * 10
    assert await cache.get("unknown-1", load) is None
    assert await cache.get("unknown-1", load) is None  # a miss is cached like a hit
    assert calls == ["a", "unknown-1"]
    clock.now += 2.5
    await cache.get("a", load)
    assert calls == ["a", "unknown-1", "a"]


async def test_invalidation_during_a_load_is_not_overwritten():
    cache: TTLCache[str] = TTLCache(ttl=60, max_entries=100)
    started, release = asyncio.Event(), asyncio.Event()
    loads = 0

    async def slow_load(key: str) -> str:
        nonlocal loads
        loads += 1
        started.set()
        await release.wait()
        return f"v{loads}"

    first = asyncio.create_task(cache.get("k", slow_load))
    await started.wait()
    cache.evict("k")  # a revocation arrives while the old row is being read
    release.set()
    assert await first == "v1"
    assert await cache.get("k", slow_load) == "v2"  # the stale read was not cached


async def test_lru_bound():
    cache: TTLCache[str] = TTLCache(ttl=60, max_entries=3)

    async def load(key: str) -> str:
        return key

    for key in "abcde":
        await cache.get(key, load)
    assert len(cache) == 3


async def test_revocation_elsewhere_is_seen_within_the_ttl_without_redis(db, tmp_path):
    """Another instance (its own KeyAdmin, no Redis) revokes; this one notices within ~2 s."""
    async with keyed_app(db.url, tmp_path, key_cache_ttl_seconds=1.0) as k:
        issued = await k.issue()
        assert (await post(k.client, **{"X-API-Key": issued.key})).status_code == 200
        elsewhere = KeyAdmin(db.sessions, HMAC_SECRET.encode(), "test")
        await elsewhere.revoke(issued.record.id)
        started, refused = time.monotonic(), None
        while time.monotonic() - started < 5:
            resp = await post(k.client, **{"X-API-Key": issued.key})
            if resp.status_code != 200:
                refused = error_of(resp)
                break
            await asyncio.sleep(0.1)
    assert refused is not None
    assert refused[:2] == (401, "API_KEY_REVOKED")
