"""The Redis backends: answers and APQ documents shared between processes, versions too."""

from __future__ import annotations

import time

from app.cache_store import Entry, RedisStore
from tests.cache.helpers import (
    PRICES,
    apq,
    cache_app,
    data_part,
    dump,
    is_hit,
    post,
    redis_overrides,
    seed,
    write_quote,
)

VARS = {"n": 2}


async def test_two_processes_share_answers_documents_and_invalidation(db, tmp_path):
    """Two app instances (two lifespans, as two workers would be) on one Redis."""
    ids = await seed(db.sessions, 2)
    shared = redis_overrides()
    async with (
        cache_app(db.url, tmp_path, **shared) as a,
        cache_app(db.url, tmp_path, **shared) as b,
    ):
        assert a.cache.stats()["backend"] == "redis"
        first = await post(a.client, PRICES, VARS, extensions=apq(PRICES))  # registers, stores
        assert first.status_code == 200 and not is_hit(first), dump(first)
        from_b = await post(b.client, None, VARS, extensions=apq(PRICES))
        assert is_hit(from_b), dump(from_b)  # the document and the answer came from Redis
        assert data_part(from_b) == data_part(first)

        await write_quote(db.sessions, ids[0], "777")
        await write_quote(db.sessions, ids[0], "777", source="src1")
        await a.bump("quotes")  # announced by one process ...
        fresh = await post(b.client, PRICES, VARS)  # ... seen by the other at once
        assert not is_hit(fresh), dump(fresh)
        assert fresh.json()["data"]["assets"]["nodes"][0]["price"]["value"] == "777"
        assert is_hit(await post(a.client, PRICES, VARS))


async def test_an_unreachable_redis_makes_misses_not_failures():
    store = RedisStore.from_url("redis://127.0.0.1:1/0", "test:unreachable:", 1 << 20)
    entry = Entry(b"{}", 'W/"x"', 1, 1, "e", (), time.time() + 60)
    try:
        await store.put("k", entry)  # logged and counted, not raised
        assert store.errors == 1
        assert await store.get("other") is None
        assert store.errors == 2
        assert await store.get("k") == entry  # the local copy still serves this process
    finally:
        await store.aclose()
