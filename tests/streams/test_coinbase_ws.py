"""The Coinbase ticker/heartbeats adapter against a local WebSocket server replaying frames."""

import json
from datetime import UTC, datetime
from decimal import Decimal

from sources.coinbase_ws import CoinbaseStream, Heartbeat, SequenceGap, Subscriptions
from sources.records import MarketQuote
from sources.ws_stream import Connected, Disconnected, StreamPolicy
from tests.streams.replay import ReplayServer, collect, server_frames

FAST = StreamPolicy(backoff_base=0.01, backoff_cap=0.05, idle_timeout=5)
PRODUCTS = ["BTC-USD", "ETH-USD"]


def with_seq(frame: str, seq: int) -> str:
    data = json.loads(frame)
    data["sequence_num"] = seq
    return json.dumps(data)


async def expect_subscriptions(conn) -> None:
    """Coinbase drops clients that have not subscribed within 5 s: one message per channel."""
    first = await conn.recv_json(within=5)
    second = await conn.recv_json(within=5)
    assert {first["channel"], second["channel"]} == {"ticker", "heartbeats"}
    for msg in (first, second):
        assert msg["type"] == "subscribe"
        assert msg["product_ids"] == PRODUCTS


async def test_subscribes_then_parses_tickers_and_heartbeats():
    async def script(conn, n):
        await expect_subscriptions(conn)
        for frame in server_frames("coinbase_ticker.txt"):
            await conn.send(frame)
        await conn.hold()

    async with ReplayServer(script) as server:
        feed = CoinbaseStream(PRODUCTS, url=server.url, policy=FAST)
        events = await collect(feed, lambda ev: sum(isinstance(e, Heartbeat) for e in ev) == 2)
    assert len(server.conns) == 1
    (subs,) = [e for e in events if isinstance(e, Subscriptions)]
    assert subs.channels["ticker"] == PRODUCTS
    btc, eth = [e for e in events if isinstance(e, MarketQuote)]
    assert (btc.source_id, btc.price, btc.base_volume_24h) == (
        "BTC-USD",
        Decimal("87000.50"),
        Decimal("15328.12345678"),
    )
    assert (btc.bid, btc.ask, btc.change_24h) == (
        Decimal("87000.00"),
        Decimal("87001.00"),
        Decimal("1.85"),
    )
    assert btc.observed_at == datetime(2026, 1, 1, 0, 0, 1, 123456, tzinfo=UTC)  # ns trimmed
    assert btc.volume_24h is None  # Coinbase sends only the base-unit volume
    assert eth.base_volume_24h == Decimal("250000.5")  # the "volume_24h" spelling
    assert eth.change_24h == Decimal("-0.5")
    assert [h.counter for h in events if isinstance(h, Heartbeat)] == [41, 42]  # int and str
    assert not [e for e in events if isinstance(e, SequenceGap)]


async def test_sequence_gaps_are_reported_and_stale_frames_dropped():
    frames = server_frames("coinbase_ticker.txt")
    ticker, heartbeat = frames[1], frames[3]

    async def script(conn, n):
        await expect_subscriptions(conn)
        for seq in (1, 2):
            await conn.send(with_seq(heartbeat, seq))
        await conn.send(with_seq(ticker, 5))  # 3 and 4 never arrive
        await conn.send(with_seq(heartbeat, 4))  # late: older than what we have
        await conn.send(with_seq(heartbeat, 6))
        await conn.hold()

    async with ReplayServer(script) as server:
        feed = CoinbaseStream(PRODUCTS, url=server.url, policy=FAST)
        events = await collect(feed, lambda ev: sum(isinstance(e, Heartbeat) for e in ev) == 3)
    gaps = [e for e in events if isinstance(e, SequenceGap)]
    assert [(g.expected, g.received, g.missed) for g in gaps] == [(3, 5, 2)]
    assert events.index(gaps[0]) < next(
        i for i, e in enumerate(events) if isinstance(e, MarketQuote)
    )
    assert feed.stats.extra == {"sequence_gaps": 1, "missed_messages": 2, "stale_frames": 1}


async def test_a_reconnect_resubscribes_and_restarts_the_sequence():
    frames = server_frames("coinbase_ticker.txt")

    async def script(conn, n):
        await expect_subscriptions(conn)
        if n == 1:
            await conn.send(with_seq(frames[3], 10))
            conn.abort()
            return
        await conn.send(with_seq(frames[3], 0))  # numbering starts afresh: not a gap
        await conn.send(with_seq(frames[1], 1))
        await conn.hold()

    async with ReplayServer(script) as server:
        feed = CoinbaseStream(PRODUCTS, url=server.url, policy=FAST)
        events = await collect(feed, lambda ev: any(isinstance(e, MarketQuote) for e in ev))
    assert len(server.conns) == 2
    assert [e.number for e in events if isinstance(e, Connected)] == [1, 2]
    (gone,) = [e for e in events if isinstance(e, Disconnected)]
    assert not gone.planned
    assert not [e for e in events if isinstance(e, SequenceGap)]


async def test_resnapshot_policy_reconnects_on_a_gap():
    frames = server_frames("coinbase_ticker.txt")

    async def script(conn, n):
        await expect_subscriptions(conn)
        await conn.send(with_seq(frames[3], 1))
        if n == 1:
            await conn.send(with_seq(frames[1], 3))  # gap
        else:
            await conn.send(with_seq(frames[1], 2))
        await conn.hold()

    async with ReplayServer(script) as server:
        feed = CoinbaseStream(PRODUCTS, url=server.url, policy=FAST, on_gap="resnapshot")
        events = await collect(feed, lambda ev: any(isinstance(e, MarketQuote) for e in ev))
    (gone,) = [e for e in events if isinstance(e, Disconnected)]
    assert gone.planned
    assert "resnapshot" in gone.reason
    assert gone.retry_in == 0
    assert len(server.conns) == 2
    assert feed.stats.extra["sequence_gaps"] == 1
