"""Shared topics: identical subscriptions share one execution; every field streams."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from pubsub import channels, messages
from tests.subscriptions.conftest import PRICES, Live, until, ws_client

SMALL = """
subscription S($ids: [String!]!, $after: String) {
  prices(assetIds: $ids, after: $after) { seq price { value } }
}
"""


async def test_same_document_and_variables_share_one_render(live: Live) -> None:
    async with AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(ws_client(live.url)) for _ in range(6)]
        for i, conn in enumerate(conns):
            await conn.init()
            if i < 4:  # four identical subscriptions
                await conn.subscribe("s", PRICES, {"ids": ["bitcoin"]})
            elif i == 4:  # another selection
                await conn.subscribe("s", SMALL, {"ids": ["bitcoin"]})
            else:  # other variables
                await conn.subscribe("s", PRICES, {"ids": ["bitcoin", "ethereum"]})
        await live.attached(6)
        assert len(live.hub.topics) == 3
        before = live.hub.stats.renders
        await live.tick("bitcoin", "10")
        frames = [await c.recv() for c in conns]
    # One event, three topics: three renders for six subscribers.
    assert live.hub.stats.renders - before == 3
    payloads = [f["payload"]["data"]["prices"] for f in frames]
    assert payloads[0] == payloads[1] == payloads[2] == payloads[3]
    assert payloads[4] == {"seq": 1, "price": {"value": "10"}}
    assert payloads[5]["assetId"] == "bitcoin"


async def test_the_asset_is_read_once_per_event_not_per_subscriber(live: Live) -> None:
    doc = 'subscription { prices(assetIds: ["ethereum"]) { asset { canonicalId symbol } } }'
    from sqlalchemy import event

    engine = live.server.lifespan.state["engine"].sync_engine
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async def statements_per_event(opened: list[Any], price: str) -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            await live.tick("ethereum", price)
            got = [await c.recv() for c in opened]
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert {g["payload"]["data"]["prices"]["asset"]["symbol"] for g in got} == {"ETH"}
        return len(statements)

    async with AsyncExitStack() as stack:
        opened = [await stack.enter_async_context(ws_client(live.url)) for _ in range(20)]
        for c in opened:
            await c.init()
        await opened[0].subscribe("1", doc)
        await live.attached(1)
        one = await statements_per_event(opened[:1], "2000")
        for c in opened[1:]:
            await c.subscribe("1", doc)
        await live.attached(20)
        twenty = await statements_per_event(opened, "2001")
    # One loader batch per event for the topic, whatever the number of subscribers.
    assert one > 0
    assert twenty == one


CANDLES = """
subscription C($after: String) {
  candles(assetId: "bitcoin", interval: "1m", after: $after) {
    seq isComplete candle { openTime closeTime open high low close isComplete source }
  }
}
"""


def _candle(close: str, complete: bool, open_time: datetime) -> dict[str, Any]:
    return messages.candle_update(
        asset="bitcoin",
        quote="USD",
        interval="1m",
        source="sim",
        open_time=open_time,
        open=Decimal(100),
        high=Decimal(110),
        low=Decimal(90),
        close=Decimal(close),
        volume=Decimal(5),
        is_complete=complete,
    )


async def test_candles_forming_then_closed(live: Live) -> None:
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    ch = channels.candles("bitcoin", "1m")
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("c", CANDLES)
        await live.attached(1)
        await live.broker.publish(ch, _candle("101", False, start))
        forming = (await c.recv())["payload"]["data"]["candles"]
        await live.broker.publish(ch, _candle("104", True, start))
        closed = (await c.recv())["payload"]["data"]["candles"]
    assert forming["isComplete"] is False
    assert forming["candle"]["close"] == "101"
    assert closed["isComplete"] is True
    assert closed["candle"]["openTime"] == "2024-05-01T12:00:00+00:00"
    assert closed["candle"]["closeTime"] == "2024-05-01T12:01:00+00:00"
    assert closed["candle"]["close"] == "104"


async def test_signals_filtered_by_kind(live: Live) -> None:
    doc = """subscription { signals(assetIds: ["bitcoin", "solana"], kinds: ["rsi"]) {
        assetId signal { kind value direction source } } }"""
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("g", doc)
        await live.attached(1)
        for asset, kind, value in [("bitcoin", "macd", "1"), ("solana", "rsi", "71.5")]:
            await live.broker.publish(
                channels.signals(asset),
                messages.signal_value(
                    asset=asset,
                    source="cryptoql",
                    kind=kind,
                    value=Decimal(value),
                    direction="bearish",
                    horizon="1h",
                    computed_at=datetime.now(UTC) - timedelta(seconds=5),
                ),
            )
        got = (await c.recv())["payload"]["data"]["signals"]
    assert got == {
        "assetId": "solana",
        "signal": {"kind": "rsi", "value": "71.5", "direction": "BEARISH", "source": "cryptoql"},
    }


async def test_blocks_by_caip2_id_and_unknown_chain(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("x", 'subscription { blocks(chainId: "nochain") { seq } }')
        err = await c.recv()
        assert err["payload"][0]["extensions"]["code"] == "NOT_FOUND"
        await c.subscribe(
            "b", 'subscription { blocks(chainId: "eip155:1") { chainId block { number } } }'
        )
        await live.attached(1)
        await live.block(17)
        got = (await c.recv())["payload"]["data"]["blocks"]
    assert got == {"chainId": "ethereum", "block": {"number": 17}}


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_direct_stream_without_a_socket_same_semantics(db: Any) -> None:
    """Transports without a sink (in-process ``schema.subscribe``) stream privately."""
    from dataclasses import replace

    from loaders.registry import build_loaders
    from pubsub.memory import MemoryBroker
    from resolvers.context import Context
    from resolvers.principal import Principal
    from schema.build import build_schema
    from tests.factories import Factory

    await Factory(db.sessions).asset("bitcoin", symbol="BTC")
    broker = MemoryBroker()
    ctx = Context(
        loaders=build_loaders(db.sessions),
        sessions=db.sessions,
        now=datetime.now(UTC),
        request_id="t",
        principal=Principal(client_ip="127.0.0.1"),
        services={"broker": broker},
    )
    schema = build_schema()
    ch = channels.prices("bitcoin")
    tick = messages.price_tick(
        asset="bitcoin", quote="USD", source="a", price=Decimal(1), observed_at=datetime.now(UTC)
    )
    await broker.publish(ch, tick)
    stream = await schema.subscribe(SMALL, {"ids": ["bitcoin"], "after": None}, ctx)
    first_task = stream.__anext__()
    import asyncio

    pending = asyncio.ensure_future(first_task)
    await until(lambda: broker.health()["local_subscribers"] == 1)
    await broker.publish(ch, {**tick, "price": "2", "source": "b"})
    first = await asyncio.wait_for(pending, 5)
    await stream.aclose()
    assert broker.health()["local_subscribers"] == 0
    assert first.data == {"prices": {"seq": 2, "price": {"value": "1.5"}}}
    cursor_doc = 'subscription { prices(assetIds: ["bitcoin"]) { cursor } }'
    stream = await schema.subscribe(
        cursor_doc, None, replace(ctx, loaders=build_loaders(db.sessions))
    )
    pending = asyncio.ensure_future(stream.__anext__())
    await until(lambda: broker.health()["local_subscribers"] == 1)
    await broker.publish(ch, {**tick, "price": "3"})
    cur = (await asyncio.wait_for(pending, 5)).data["prices"]["cursor"]
    await stream.aclose()
    await broker.publish(ch, {**tick, "price": "4"})
    stream = await schema.subscribe(
        SMALL, {"ids": ["bitcoin"], "after": cur}, replace(ctx, loaders=build_loaders(db.sessions))
    )
    replayed = await asyncio.wait_for(stream.__anext__(), 5)
    await stream.aclose()
    assert replayed.data["prices"]["seq"] == 4
