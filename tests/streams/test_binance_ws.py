"""The Binance combined-stream adapter against a local WebSocket server replaying frames."""

import asyncio
import contextlib
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from sources.binance_ws import BinanceStream, SubscribeAck, stream_names
from sources.records import CandleRecord, MarketQuote, TradeRecord
from sources.ws_stream import Connected, Disconnected, StreamPolicy
from tests.streams.replay import ReplayServer, collect, server_frames

FAST = StreamPolicy(backoff_base=0.01, backoff_cap=0.05, idle_timeout=5, max_age=None)
STREAMS = [*stream_names(["BTCUSDT"], trades=True, klines=["1m"], mini=False), "ethusdt@miniTicker"]


def records(events):
    return [e for e in events if isinstance(e, TradeRecord | CandleRecord | MarketQuote)]


def streams_of(conn) -> list[str]:
    return parse_qs(urlsplit(conn.path).query)["streams"][0].split("/")


def ms(n: int) -> datetime:
    return datetime.fromtimestamp(n / 1000, tz=UTC)


async def test_frames_parse_tolerantly_into_records():
    async def script(conn, n):
        for frame in server_frames("binance_combined.txt"):
            await conn.send(frame)
        await conn.hold()

    async with ReplayServer(script) as server:
        feed = BinanceStream(STREAMS, base_url=server.url, policy=FAST)
        events = await collect(feed, lambda ev: len(records(ev)) == 6)
    assert streams_of(server.conns[0]) == STREAMS
    trades = [e for e in events if isinstance(e, TradeRecord)]
    assert [(t.trade_id, t.price, t.quantity, t.buyer_is_maker) for t in trades] == [
        ("900001", Decimal("87000.10000000"), Decimal("0.00150000"), True),
        ("900002", Decimal("87000.20000000"), Decimal("0.25000000"), False),  # legacy b/a ignored
        ("900004", Decimal("87010.00000000"), Decimal("0.01000000"), True),  # after the bad one
    ]
    assert trades[0].ts == ms(1767225600099)
    assert trades[0].source_id == "BTCUSDT"
    forming, closed = [e for e in events if isinstance(e, CandleRecord)]
    assert forming.open_time == closed.open_time == ms(1767225600000)
    assert (forming.is_complete, closed.is_complete) == (False, True)
    assert (closed.open, closed.high, closed.low, closed.close) == tuple(
        Decimal(x) for x in ("87000.10000000", "87001.00000000", "86985.00000000", "86990.00000000")
    )
    assert closed.volume == Decimal("1.50000000")
    assert closed.trades == 10
    assert closed.interval == "1m"
    (mini,) = [e for e in events if isinstance(e, MarketQuote)]
    assert (mini.source_id, mini.price, mini.volume_24h, mini.base_volume_24h) == (
        "ETHUSDT",
        Decimal("3000.50"),
        Decimal("445000000.25"),
        Decimal("150000.5"),
    )
    assert mini.change_24h == (Decimal("3000.50") - 2900) / 2900 * 100
    assert [e.request_id for e in events if isinstance(e, SubscribeAck)] == [7]
    assert feed.stats.parse_errors == 1  # the zero price
    assert feed.stats.extra == {"error_frames": 1, "ignored_frames": 1}


async def test_pings_are_answered_even_while_the_consumer_is_busy():
    pongs: list[bytes] = []

    async def script(conn, n):
        for payload in (b"cq-ping-1", b"cq-ping-2"):
            waiter = await conn.ws.ping(payload)
            await asyncio.wait_for(waiter, 2)  # fails the server script if no pong comes
            pongs.append(payload)
        await conn.send(server_frames("binance_combined.txt")[0])
        await conn.hold()

    async with ReplayServer(script) as server:
        feed = BinanceStream(STREAMS, base_url=server.url, policy=FAST)
        async with contextlib.aclosing(feed.events()) as events:
            assert isinstance(await anext(events), Connected)
            await asyncio.sleep(0.3)  # not reading: the library must still pong
            assert pongs == [b"cq-ping-1", b"cq-ping-2"]
            assert isinstance(await anext(events), TradeRecord)
    assert feed.stats.reconnects == 0


@pytest.mark.parametrize(
    "shutdown",
    [
        '{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1767225700000}}',
        '{"e":"serverShutdown","E":1767225700000}',
    ],
    ids=["combined", "raw"],
)
async def test_server_shutdown_reconnects_at_once_with_the_same_streams(shutdown):
    trade = server_frames("binance_combined.txt")[0]

    async def script(conn, n):
        await conn.send(trade)
        if n == 1:
            await conn.send(shutdown)
        await conn.hold()

    async with ReplayServer(script) as server:
        feed = BinanceStream(STREAMS, base_url=server.url, policy=FAST)
        events = await collect(feed, lambda ev: len(records(ev)) == 2)
    (gone,) = [e for e in events if isinstance(e, Disconnected)]
    assert gone.planned
    assert gone.retry_in == 0
    assert "serverShutdown" in gone.reason
    assert [streams_of(c) for c in server.conns] == [STREAMS, STREAMS]
    assert feed.stats.extra["server_shutdowns"] == 1


async def test_streams_added_live_are_resubscribed_after_a_drop():
    async def script(conn, n):
        if n == 1:
            request = await conn.recv_json()
            assert request["method"] == "SUBSCRIBE"
            await conn.send({"result": None, "id": request["id"]})
            await asyncio.sleep(0.05)
            conn.abort()  # the network fails: no close frame
            return
        await conn.send(server_frames("binance_combined.txt")[4])
        await conn.hold()

    async with ReplayServer(script) as server:
        feed = BinanceStream(STREAMS, base_url=server.url, policy=FAST)
        events: list = []
        async with asyncio.timeout(5), contextlib.aclosing(feed.events()) as stream:
            async for event in stream:
                events.append(event)
                if isinstance(event, Connected) and event.number == 1:
                    ids = await feed.subscribe(["solusdt@trade", "btcusdt@trade"])  # one is new
                    assert ids == [1]
                if records(events):
                    break
    assert server.conns[0].received[0]["params"] == ["solusdt@trade"]
    assert [e.request_id for e in events if isinstance(e, SubscribeAck)] == [1]
    (gone,) = [e for e in events if isinstance(e, Disconnected)]
    assert not gone.planned
    assert gone.retry_in <= FAST.backoff_base
    assert streams_of(server.conns[1]) == [*STREAMS, "solusdt@trade"]


async def test_connections_are_renewed_before_their_maximum_age():
    trade = server_frames("binance_combined.txt")[0]

    async def script(conn, n):
        for _ in range(100):  # a steady feed: age, not silence, ends the connection
            await conn.send(trade)
            await asyncio.sleep(0.02)

    async with ReplayServer(script) as server:
        policy = StreamPolicy(backoff_base=0.01, idle_timeout=5, max_age=0.2)
        feed = BinanceStream(STREAMS, base_url=server.url, policy=policy)
        events = await collect(feed, lambda ev: sum(isinstance(e, Connected) for e in ev) == 2)
    (gone,) = [e for e in events if isinstance(e, Disconnected)]
    assert gone.planned
    assert gone.retry_in == 0
    assert "max connection age" in gone.reason
    assert len(records(events)) >= 2


async def test_a_silent_connection_is_replaced():
    async def script(conn, n):
        if n == 2:
            await conn.send(server_frames("binance_combined.txt")[0])
        await conn.hold()  # connection 1 says nothing at all

    async with ReplayServer(script) as server:
        policy = StreamPolicy(backoff_base=0.01, backoff_cap=0.02, idle_timeout=0.2)
        feed = BinanceStream(STREAMS, base_url=server.url, policy=policy)
        events = await collect(feed, lambda ev: len(records(ev)) == 1)
    (gone,) = [e for e in events if isinstance(e, Disconnected)]
    assert not gone.planned
    assert "idle" in gone.reason
    assert feed.stats.last_error is not None


async def test_an_unreachable_upstream_is_retried_with_backoff():
    slept: list[float] = []

    async def fake_sleep(seconds):
        slept.append(seconds)
        await asyncio.sleep(0)

    feed = BinanceStream(
        STREAMS,
        base_url="ws://127.0.0.1:9",  # nothing listens on the discard port
        policy=StreamPolicy(backoff_base=0.5, backoff_cap=4.0, open_timeout=1),
        sleep=fake_sleep,
    )
    events = await collect(feed, lambda ev: len(ev) == 5)
    assert all(isinstance(e, Disconnected) and not e.planned for e in events)
    caps = [min(4.0, 0.5 * 2**i) for i in range(5)]
    assert all(0 <= s <= cap for s, cap in zip(slept, caps, strict=False))
    assert len(slept) == 4
