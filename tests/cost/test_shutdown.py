"""Budgets in Redis at shutdown: every connection the app opened is closed, nothing reopens.

Connections are told apart by a client name unique to the test (``?client_name=``
in the Redis URL, which redis-py passes to ``CLIENT SETNAME``), counted with
``CLIENT LIST`` on the real server.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.main import create_app
from cost.budget import Tier
from cost.redis_budget import BudgetStoreClosed, RedisBudgetStore
from tests.conftest import REDIS_TEST_URL, make_settings

CAPACITY = 1_000.0
SLOW_TIERS = {"anonymous": {"capacity": CAPACITY, "restore_rate": 0.001}}


@pytest.fixture
async def admin() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_TEST_URL)
    try:
        yield client
    finally:
        await client.aclose()


async def open_connections(admin: Redis, name: str, *, settle: float = 0.0) -> int:
    """Connections named ``name``; with ``settle``, wait that long for the count to reach 0."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle
    while True:
        count = sum(1 for c in await admin.client_list() if c.get("name") == name)
        if count == 0 or loop.time() >= deadline:
            return count
        await asyncio.sleep(0.02)


async def test_lifespan_closes_every_redis_connection_with_budgets_in_redis(
    admin: Redis, sqlite_template: Path, tmp_path: Path
) -> None:
    db = tmp_path / "app.db"
    shutil.copyfile(sqlite_template, db)
    tag = uuid.uuid4().hex[:12]
    name = f"cqtest-{tag}"
    prefix = f"cqtest:{tag}:"
    settings = make_settings(
        f"sqlite+aiosqlite:///{db}",
        data_dir=tmp_path,
        redis_url=f"{REDIS_TEST_URL}?client_name={name}",
        cost_budget_backend="redis",
        cost_redis_prefix=f"{prefix}budget:",
        cost_tiers=SLOW_TIERS,
        pubsub_namespace=prefix,
        key_invalidation_channel=f"{prefix}keys",
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app) as state:
            services = state["services"]
            assert isinstance(services["cost"].store, RedisBudgetStore)
            assert (await services["cost"].reserve("test:http", "anonymous", 10)).allowed
            # Subscription events delivered just before shutdown: the meter charges
            # them in its final flush, while the app is stopping.
            services["subscription_meter"].add("test:events", "anonymous", 25)
            assert await open_connections(admin, name) > 0
        assert await open_connections(admin, name, settle=2.0) == 0
        # The final flush was charged to the shared bucket, not dropped.
        available = await admin.hget(f"{prefix}budget:test:events", "a")
        assert available is not None
        assert float(available) == pytest.approx(CAPACITY - 25, abs=0.1)
    finally:
        keys = [k async for k in admin.scan_iter(match=f"{prefix}*")]
        if keys:
            await admin.delete(*keys)


async def test_a_closed_redis_store_refuses_instead_of_reconnecting(admin: Redis) -> None:
    tag = uuid.uuid4().hex[:12]
    name = f"cqtest-{tag}"
    tier = Tier("fast", capacity=10, restore_rate=100)  # the bucket expires within a second
    store = RedisBudgetStore(
        Redis.from_url(f"{REDIS_TEST_URL}?client_name={name}"), prefix=f"cqtest:{tag}:"
    )
    assert (await store.take("k", tier, 1)).allowed
    assert await open_connections(admin, name) == 1
    await store.aclose()
    with pytest.raises(BudgetStoreClosed):
        await store.take("k", tier, 1)
    with pytest.raises(BudgetStoreClosed):
        await store.give("k", tier, 1)
    with pytest.raises(BudgetStoreClosed):
        await store.peek("k", tier)
    assert await open_connections(admin, name, settle=2.0) == 0
