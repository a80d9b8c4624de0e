"""No loader batch outlives its operation, even when the fields waiting on it are cancelled.

On graphql-core's executor (the reference path, also taken when the compiled
path does not plan a document) a non-null ``candles`` that fails on a bad
``quote`` nulls ``nativeAsset`` and cancels its sibling ``signals``, whose
batch query was already dispatched as a task of its own. Before the response
is out that batch must have finished and returned its connection: otherwise it
runs on after the request, and an app shut down meanwhile disposes its engine
under it (the connection is then never closed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiodataloader
import pytest

from app.main import create_app
from loaders.base import RequestFinished
from loaders.registry import build_loaders
from tests.conftest import Db, make_settings
from tests.factories import Factory
from tests.graph.conftest import Served, serve

QUERY = """{ chains { nativeAsset {
  signals { kind value }
  candles(interval: "1h", last: 5, quote: "not a code") { close }
} } }"""


def running_batches() -> list[asyncio.Task[object]]:
    code = aiodataloader.dispatch_queue_batch.__code__
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and getattr(task.get_coro(), "cr_code", None) is code
    ]


@pytest.fixture
async def reference(db: Db) -> AsyncIterator[Served]:
    settings = make_settings(db.url, cost_enforce=False, compiled_execution=False)
    async with serve(create_app(settings)) as served:
        yield served


async def test_cancelled_fields_leave_no_batch_running(db: Db, reference: Served) -> None:
    f = Factory(db.sessions)
    eth = await f.asset("ethereum", symbol="ETH")
    await f.chain("ethereum", native_asset_id=eth)
    await f.signal(eth, "rsi_14", 55)
    for _ in range(5):
        resp = await reference.client.post("/graphql", json={"query": QUERY})
        body = resp.json()
        assert body["data"] == {"chains": [{"nativeAsset": None}]}, resp.text
        assert body["errors"][0]["path"] == ["chains", 0, "nativeAsset", "candles"]
        assert running_batches() == []
        assert reference.engine.pool.checkedout() == 0


async def test_a_cancelled_request_stops_its_batches_before_they_touch_the_database(db: Db):
    """A batch scheduled by a request that was then cancelled (timed out) never opens a
    session; one already running is cancelled and closes its session."""
    opened = 0

    def sessions() -> object:
        nonlocal opened
        opened += 1
        return db.sessions()

    loaders = build_loaders(sessions)  # type: ignore[arg-type]
    pending = loaders.asset_by_id.load(1)  # dispatched on the next loop turn
    await loaders.settle(cancel=True)
    with pytest.raises(RequestFinished):
        await pending
    assert opened == 0


async def test_a_timed_out_request_leaves_no_batch_running(db: Db) -> None:
    settings = make_settings(db.url, cost_enforce=False, request_timeout_seconds=0.001)
    f = Factory(db.sessions)
    eth = await f.asset("ethereum", symbol="ETH")
    await f.chain("ethereum", native_asset_id=eth)
    async with serve(create_app(settings)) as served:
        for _ in range(5):
            resp = await served.client.post("/graphql", json={"query": QUERY})
            assert resp.status_code in (200, 503)
            assert served.engine.pool.checkedout() == 0
            # A batch the request had scheduled but not started may still be queued; on
            # its first turn it sees the request is over and ends without a session.
            for _ in range(3):
                await asyncio.sleep(0)
            assert running_batches() == []
            assert served.engine.pool.checkedout() == 0


async def test_a_cancelled_caller_does_not_cancel_the_key_for_other_callers(db: Db) -> None:
    """Callers of one key share a cached future; cancelling one (as graphql-core cancels
    a failed field's siblings) must not fail the others with CancelledError."""
    f = Factory(db.sessions)
    eth = await f.asset("ethereum", symbol="ETH")
    loaders = build_loaders(db.sessions)
    loaders.shield_loads()  # as graphql-core's executor has them
    first = asyncio.ensure_future(loaders.asset_by_id.load(eth))
    second = asyncio.ensure_future(loaders.asset_by_id.load(eth))
    await asyncio.sleep(0)
    first.cancel()
    record = await second
    assert record is not None and record.id == eth
    assert first.cancelled()
    await loaders.settle()
