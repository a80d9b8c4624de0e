"""Memory: no per-event retention (graphql-core 3.3.2's memo), no leaks over connection churn."""

from __future__ import annotations

import asyncio
import gc
import os
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    parse,
)
from graphql.execution import Executor, subscribe

from pubsub import channels, messages
from resolvers.subscriptions.executor import EventScopedExecutor
from tests.subscriptions.conftest import Live, until, ws_client

EVENTS = 20_000
WARMUP = 2_000
LIMIT = 1024 * 1024


def _tiny_schema() -> GraphQLSchema:
    item = GraphQLObjectType(
        "Item", {"a": GraphQLField(GraphQLString), "b": GraphQLField(GraphQLString)}
    )

    async def source(_root: Any, _info: Any) -> AsyncIterator[dict[str, Any]]:
        for i in range(3_000):
            yield {"item": {"a": str(i), "b": "x"}}

    return GraphQLSchema(
        query=GraphQLObjectType("Query", {"x": GraphQLField(GraphQLString)}),
        subscription=GraphQLObjectType(
            "Subscription",
            {"item": GraphQLField(item, subscribe=source, resolve=lambda e, _i: e["item"])},
        ),
    )


async def _growth_over_events(executor_class: type[Executor]) -> int:
    """Traced-heap growth of one live graphql-core subscription from event 500 to 2,900."""
    schema = _tiny_schema()
    stream: Any = subscribe(
        schema, parse("subscription { item { a b } }"), executor_class=executor_class
    )
    if asyncio.iscoroutine(stream):
        stream = await stream
    n = start = end = 0
    async for _ in stream:
        n += 1
        if n == 500:
            gc.collect()
            start = tracemalloc.get_traced_memory()[0]
        elif n == 2_900:  # measured while the subscription lives (completion frees it all)
            gc.collect()
            end = tracemalloc.get_traced_memory()[0]
    return end - start


async def test_the_event_scoped_executor_fixes_graphql_core_retention() -> None:
    """The guard can fail: graphql-core's own executor grows ~0.9 KB per event; ours does not."""
    tracemalloc.start()
    try:
        leaky = await _growth_over_events(Executor)
        fixed = await _growth_over_events(EventScopedExecutor)
    finally:
        tracemalloc.stop()
    assert leaky > 1_000_000  # 2,400 events x ~0.9 KB retained
    assert fixed < 100_000


class _CountingSink:
    """A subscriber that takes each serialized payload and drops it (a socket that keeps up)."""

    budget_key = "test"
    tier = "anonymous"
    event_cost = 0.0
    raw_variables = None

    def __init__(self) -> None:
        self.received = 0
        self.errors: list[dict[str, Any]] = []

    def deliver(self, payload: str, key: Any, replay: bool) -> None:
        self.received += 1

    def fail(self, error: dict[str, Any]) -> None:
        self.errors.append(error)


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_one_subscription_over_20000_events_grows_under_1mb(db: Any) -> None:
    """Admission through strawberry, then the shared topic: fold, execute, serialize, deliver.

    A lean stream and selection keep this quick under tracemalloc (which slows
    allocation-heavy code several-fold); the retention it guards against is
    per event whatever the stream (the executor test above), and the prices
    state is bounded per source (``test_price_state_is_bounded_by_sources``).
    """
    from loaders.registry import build_loaders
    from pubsub.memory import MemoryBroker
    from resolvers.context import Context
    from resolvers.principal import Principal
    from resolvers.subscriptions.topics import TopicHub
    from schema.build import build_schema
    from tests.factories import Factory

    await Factory(db.sessions).chain("ethereum")
    broker = MemoryBroker()
    hub = TopicHub(broker)
    sink = _CountingSink()
    ctx = Context(
        loaders=build_loaders(db.sessions),
        sessions=db.sessions,
        now=datetime.now(UTC),
        request_id="t",
        principal=Principal(client_ip="127.0.0.1"),
        services={"broker": broker, "topics": hub},
        extra={"live_sink": sink},
    )
    doc = 'subscription { blocks(chainId: "ethereum") { seq cursor block { number hash } } }'
    stream = await build_schema().subscribe(doc, None, ctx)
    results = [r async for r in stream]
    assert results == []
    assert hub.is_attached(sink)
    channel = channels.blocks("ethereum")
    published = 0

    async def publish(n: int) -> None:
        nonlocal published
        for _ in range(n):
            published += 1
            await broker.publish(
                channel,
                messages.block_head(
                    chain="ethereum",
                    source="node",
                    number=published,
                    hash=f"0x{published:064x}",
                    parent_hash=f"0x{published - 1:064x}",
                    timestamp=datetime.now(UTC),
                    gas_used=21_000,
                    gas_limit=30_000_000,
                    tx_count=1,
                ),
            )
            if published % 100 == 0:  # pace within the topic's queue
                await until(lambda t=published: hub.stats.events >= t, step=0)

    # Tracing starts before the warm-up: the broker's replay window (a bounded ring
    # of recent events) fills during it, so evictions afterwards count as frees.
    tracemalloc.start()
    try:
        await publish(WARMUP)
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        await publish(EVENTS)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
        await hub.aclose()
    assert sink.errors == []
    assert sink.received == WARMUP + EVENTS
    assert growth < LIMIT, f"traced heap grew {growth} bytes over {EVENTS} events"


def test_price_state_is_bounded_by_sources() -> None:
    from pubsub.broker import Event
    from resolvers.config import GraphConfig
    from resolvers.subscriptions.streams import PricesStream

    stream = PricesStream(["bitcoin"], "USD", GraphConfig())
    state = stream.new_state()
    for i in range(5_000):
        now = datetime.now(UTC)
        data = messages.price_tick(
            asset="bitcoin", quote="USD", source=f"s{i % 4}", price=Decimal(i + 1), observed_at=now
        )
        stream.fold(state, Event(stream.channels[0], i + 1, now, data))
    assert {ch: len(v) for ch, v in state.latest.items()} == {stream.channels[0]: 4}


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.slow
@pytest.mark.parametrize("live", [{"ws_max_connections_per_key": 100}], indirect=True)
async def test_churn_returns_fds_and_tasks_to_baseline(live: Live) -> None:
    """1,000 connect/init/subscribe/complete/close cycles, 20 in parallel (10,000 in bench/)."""
    cycles, parallel = 1_000, 20
    doc = 'subscription { prices(assetIds: ["ethereum"]) { seq price { value } } }'

    async def cycle(i: int) -> None:
        async with ws_client(live.url) as c:
            await c.init()
            await c.subscribe(str(i), doc)
            if i % 10 == 0:  # some leave via `complete`, others by just closing
                await c.send({"type": "complete", "id": str(i)})

    async def one_round() -> None:
        for start in range(0, 100, parallel):
            await asyncio.gather(*(cycle(start + k) for k in range(parallel)))

    await one_round()  # warm-up: imports, caches, pools
    await live.until_detached()
    gc.collect()
    fds, tasks = _fds(), len(asyncio.all_tasks())
    for start in range(0, cycles, parallel):
        await asyncio.gather(*(cycle(start + k) for k in range(parallel)))
    await live.until_detached()
    await until(lambda: live.ws_server.stats.connections == 0)
    await until(lambda: not live.hub.topics)
    await asyncio.sleep(0.2)
    gc.collect()
    assert _fds() <= fds
    assert len(asyncio.all_tasks()) <= tasks
    assert live.broker.health()["local_subscribers"] == 0
    assert live.ws_server.caps.connections == {}
    assert live.ws_server.caps.subscriptions == {}
    assert live.ws_server.stats.subscriptions == 0
