"""Leaky-bucket arithmetic, in process (fake clock) and in Redis (real server)."""

from __future__ import annotations

import asyncio
import math
import uuid

import pytest
from redis.asyncio import Redis

from cost.budget import MemoryBudgetStore, Tier
from cost.redis_budget import RedisBudgetStore
from tests.conftest import REDIS_TEST_URL

TIER = Tier("t", capacity=100, restore_rate=10)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_take_is_all_or_nothing_and_reports_the_wait():
    clock = Clock()
    store = MemoryBudgetStore(clock=clock)
    ok = await store.take("k", TIER, 70)
    assert ok.allowed and ok.status.currently_available == 30
    refused = await store.take("k", TIER, 50)
    assert not refused.allowed
    assert refused.status.currently_available == 30  # nothing taken
    assert refused.retry_after == pytest.approx((50 - 30) / 10)
    clock.now += refused.retry_after
    assert (await store.take("k", TIER, 50)).allowed


async def test_refill_is_capped_at_capacity():
    clock = Clock()
    store = MemoryBudgetStore(clock=clock)
    await store.take("k", TIER, 100)
    clock.now += 3
    assert (await store.peek("k", TIER)).currently_available == pytest.approx(30)
    clock.now += 1000
    assert (await store.peek("k", TIER)).currently_available == 100


async def test_refund_returns_the_difference_never_above_capacity():
    clock = Clock()
    store = MemoryBudgetStore(clock=clock)
    requested, actual = 80, 15
    await store.take("k", TIER, requested)
    status = await store.give("k", TIER, requested - actual)
    assert status.currently_available == pytest.approx(100 - actual)
    assert (await store.give("k", TIER, 1000)).currently_available == 100


async def test_cost_above_capacity_never_fits():
    store = MemoryBudgetStore(clock=Clock())
    refused = await store.take("k", TIER, 101)
    assert not refused.allowed and math.isinf(refused.retry_after)


async def test_full_buckets_are_forgotten_and_the_table_is_bounded():
    clock = Clock()
    store = MemoryBudgetStore(max_keys=3, clock=clock)
    for i in range(10):
        await store.take(f"k{i}", TIER, 1)
    assert len(store) == 3
    await store.give("k9", TIER, 5)
    assert len(store) == 2  # a full bucket is the same as no bucket


@pytest.fixture
async def redis_store():
    store = RedisBudgetStore(Redis.from_url(REDIS_TEST_URL), prefix=f"test:{uuid.uuid4().hex}:")
    try:
        yield store
    finally:
        keys = [k async for k in store.client.scan_iter(match=f"{store.prefix}*")]
        if keys:
            await store.client.delete(*keys)
        await store.aclose()


SLOW = Tier("slow", capacity=100, restore_rate=0.001)  # refill negligible during a test


async def test_redis_take_give_peek(redis_store):
    ok = await redis_store.take("k", SLOW, 70)
    assert ok.allowed
    assert ok.status.currently_available == pytest.approx(30, abs=0.01)
    refused = await redis_store.take("k", SLOW, 50)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx((50 - 30) / 0.001, rel=0.01)
    status = await redis_store.give("k", SLOW, 55)
    assert status.currently_available == pytest.approx(85, abs=0.01)
    assert (await redis_store.peek("k", SLOW)).currently_available == pytest.approx(85, abs=0.01)
    ttl = await redis_store.client.pttl(redis_store.prefix + "k")
    assert ttl > 0  # the key expires when it would have refilled anyway


async def test_redis_takes_are_atomic_under_concurrency(redis_store):
    # 40 concurrent takes of 10 from a bucket of 100: exactly 10 succeed.
    results = await asyncio.gather(*(redis_store.take("k", SLOW, 10) for _ in range(40)))
    assert sum(r.allowed for r in results) == 10
    assert (await redis_store.peek("k", SLOW)).currently_available < 10


async def test_two_redis_clients_share_one_bucket(redis_store):
    other = RedisBudgetStore(Redis.from_url(REDIS_TEST_URL), prefix=redis_store.prefix)
    try:
        await redis_store.take("shared", SLOW, 60)
        seen = await other.peek("shared", SLOW)
        assert seen.currently_available == pytest.approx(40, abs=0.01)
        assert not (await other.take("shared", SLOW, 50)).allowed
    finally:
        await other.aclose()


async def test_redis_unreachable_degrades_to_a_local_bucket():
    store = RedisBudgetStore(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    try:
        assert (await store.take("k", TIER, 60)).allowed
        assert not (await store.take("k", TIER, 60)).allowed  # still limited, per process
    finally:
        await store.aclose()
