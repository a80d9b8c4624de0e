"""Stream pumps: WebSocket frames → conflated quotes and candles in the database (both backends)."""

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from ingest.publish import Publisher
from ingest.streams import StreamPump, binance_pump, coinbase_pump
from ingest.writer import Writer
from pubsub import channels
from pubsub.memory import MemoryBroker
from sources.binance_ws import BinanceStream
from sources.coinbase_ws import CoinbaseStream
from sources.records import CandleRecord, MarketQuote, TradeRecord
from sources.ws_stream import StreamPolicy
from storage.models import Asset, Candle, Market, Quote
from tests.streams.replay import ReplayServer, server_frames

FAST = StreamPolicy(backoff_base=0.01, backoff_cap=0.05, idle_timeout=5)


async def seed_markets(db) -> dict[str, int]:
    async with db.sessions.begin() as s:
        btc = Asset(canonical_id="bitcoin", symbol="BTC", name="Bitcoin")
        eth = Asset(canonical_id="ethereum", symbol="ETH", name="Ethereum")
        s.add_all([btc, eth])
        await s.flush()
        s.add_all(
            [
                Market(
                    source="binance", symbol="BTCUSDT", base_asset_id=btc.id, quote_currency="USDT"
                ),
                Market(
                    source="binance", symbol="ETHUSDT", base_asset_id=eth.id, quote_currency="USDT"
                ),
                Market(
                    source="coinbase", symbol="BTC-USD", base_asset_id=btc.id, quote_currency="USD"
                ),
                Market(
                    source="coinbase", symbol="ETH-USD", base_asset_id=eth.id, quote_currency="USD"
                ),
            ]
        )
        return {"bitcoin": btc.id, "ethereum": eth.id}


async def fetch(db, stmt):
    async with db.sessions() as s:
        return (await s.execute(stmt)).scalars().all()


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


async def test_conflation_keeps_the_newest_value_and_the_ticker_figures(db):
    ids = await seed_markets(db)
    pump = StreamPump(BinanceStream(["ethusdt@trade"], policy=FAST), Writer(db.sessions))
    ticker = MarketQuote(
        source="binance",
        source_id="ETHUSDT",
        quote_currency=None,
        price=Decimal("3000"),
        observed_at=at(1767225600),
        volume_24h=Decimal("445000000.25"),
        change_24h=Decimal("1.5"),
    )
    trade = TradeRecord(
        source="binance",
        source_id="ETHUSDT",
        trade_id="1",
        price=Decimal("3001.5"),
        quantity=Decimal("2"),
        ts=at(1767225601),
    )
    late = TradeRecord(
        source="binance",
        source_id="ETHUSDT",
        trade_id="0",
        price=Decimal("2999"),
        quantity=Decimal("1"),
        ts=at(1767225599),
    )
    forming = CandleRecord(
        source="binance",
        source_id="ETHUSDT",
        quote_currency=None,
        interval="1m",
        open_time=at(1767225600),
        open=Decimal("3000"),
        high=Decimal("3001.5"),
        low=Decimal("3000"),
        close=Decimal("3001.5"),
        volume=Decimal("2"),
        is_complete=False,
    )
    closed = CandleRecord(
        **{
            **{f: getattr(forming, f) for f in forming.__slots__},
            "close": Decimal("3001"),
            "volume": Decimal("5"),
            "is_complete": True,
        }
    )
    for event in (ticker, trade, late, forming, closed):
        pump.observe(event)
    assert pump.pending == 2  # one market, one candle
    assert await pump.flush() >= 2
    (quote,) = await fetch(db, select(Quote).where(Quote.asset_id == ids["ethereum"]))
    assert (quote.price, quote.observed_at, quote.quote_currency) == (
        Decimal("3001.5"),
        at(1767225601),
        "USDT",
    )
    assert (quote.volume_24h, quote.change_24h) == (Decimal("445000000.25"), Decimal("1.5"))
    (candle,) = await fetch(db, select(Candle).where(Candle.interval == "1m"))
    assert (candle.close, candle.volume, candle.is_complete) == (
        Decimal("3001"),
        Decimal("5"),
        True,
    )
    assert await pump.flush() == 0  # nothing pending twice


async def test_binance_frames_flow_into_quotes_and_candles(db):
    ids = await seed_markets(db)

    async def script(conn, n):
        for frame in server_frames("binance_combined.txt"):
            await conn.send(frame)
        await conn.hold()

    broker = MemoryBroker()
    async with ReplayServer(script) as server:
        feed = BinanceStream(
            ["btcusdt@trade", "btcusdt@kline_1m", "ethusdt@miniTicker"],
            base_url=server.url,
            policy=FAST,
        )
        pump = StreamPump(feed, Writer(db.sessions, Publisher(broker)), flush_seconds=0.05)
        task = asyncio.create_task(pump.run())
        try:
            # Every good frame consumed and written.
            await until(lambda: pump.health.events >= 7 and not pump.pending and not pump.flushing)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    btc = await fetch(
        db, select(Quote).where(Quote.asset_id == ids["bitcoin"]).order_by(Quote.observed_at)
    )
    assert btc[-1].price == Decimal("87010.00000000")
    assert btc[-1].quote_currency == "USDT"
    assert all(q.source == "binance" for q in btc)
    (eth,) = await fetch(db, select(Quote).where(Quote.asset_id == ids["ethereum"]))
    assert (eth.price, eth.volume_24h) == (Decimal("3000.50"), Decimal("445000000.25"))
    (candle,) = await fetch(db, select(Candle).where(Candle.interval == "1m"))
    assert candle.open_time == at(1767225600)
    assert candle.is_complete is True
    assert (candle.open, candle.high, candle.low, candle.close) == (
        Decimal("87000.1"),
        Decimal("87001"),
        Decimal("86985"),
        Decimal("86990"),
    )
    ticks = await broker.replay(channels.prices("bitcoin", "USDT"), 0)
    assert ticks[-1].data["price"] == "87010.00000000"
    assert ticks[-1].data["source"] == "binance"
    assert pump.health.connects == 1
    assert pump.health.written_quotes >= 2


async def test_coinbase_gaps_are_counted_and_ticks_stored(db):
    ids = await seed_markets(db)
    frames = server_frames("coinbase_ticker.txt")

    def seq(frame, n):
        data = json.loads(frame)
        data["sequence_num"] = n
        return json.dumps(data)

    async def script(conn, n):
        await conn.recv_json()
        await conn.recv_json()
        await conn.send(seq(frames[3], 1))
        await conn.send(seq(frames[1], 4))  # two messages lost
        await conn.send(seq(frames[2], 5))
        await conn.hold()

    async with ReplayServer(script) as server:
        feed = CoinbaseStream(["BTC-USD", "ETH-USD"], url=server.url, policy=FAST)
        pump = StreamPump(feed, Writer(db.sessions), flush_seconds=0.05)
        task = asyncio.create_task(pump.run())
        try:
            await until(lambda: pump.health.written_quotes >= 2)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert (pump.health.sequence_gaps, pump.health.missed_messages) == (1, 2)
    rows = await fetch(db, select(Quote).where(Quote.source == "coinbase").order_by(Quote.asset_id))
    assert [(r.asset_id, r.price, r.quote_currency) for r in rows] == [
        (ids["bitcoin"], Decimal("87000.50"), "USD"),
        (ids["ethereum"], Decimal("3001.25"), "USD"),
    ]
    assert pump.health.extra["Heartbeat"] == 1
    assert pump.health.connects == 1


async def until(predicate, within: float = 10.0) -> None:
    """Poll a condition other tasks make true (bounded: fails the test after ``within`` s)."""
    async with asyncio.timeout(within):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)


async def test_a_failed_write_is_kept_and_written_by_the_next_flush(db, tmp_path):
    ids = await seed_markets(db)
    from storage.engine import make_engine, make_session_factory

    broken = make_engine(f"sqlite+aiosqlite:///{tmp_path}/unmigrated.db")  # no tables: writes fail
    pump = StreamPump(
        BinanceStream(["btcusdt@trade"], policy=FAST), Writer(make_session_factory(broken))
    )
    pump.observe(
        TradeRecord(
            source="binance",
            source_id="BTCUSDT",
            trade_id="1",
            price=Decimal("87000"),
            quantity=Decimal("1"),
            ts=at(1767225600),
        )
    )
    try:
        assert await pump.flush() == 0
    finally:
        await broken.dispose()
    assert pump.health.failed_flushes == 1
    assert pump.pending == 1
    pump.observe(
        TradeRecord(
            source="binance",
            source_id="BTCUSDT",
            trade_id="2",
            price=Decimal("87001"),
            quantity=Decimal("1"),
            ts=at(1767225601),
        )
    )
    pump.writer = Writer(db.sessions)
    assert await pump.flush() == 1
    (quote,) = await fetch(db, select(Quote).where(Quote.asset_id == ids["bitcoin"]))
    assert quote.price == Decimal("87001")  # the newer value, written once


def test_factories_subscribe_to_the_configured_markets():
    pump = binance_pump(
        None, url="wss://example.invalid", symbols=["BTCUSDT"], kline_intervals=["1m", "5m"]
    )
    assert pump.feed.streams == [
        "btcusdt@trade",
        "btcusdt@kline_1m",
        "btcusdt@kline_5m",
        "btcusdt@miniTicker",
    ]
    cb = coinbase_pump(None, url="wss://example.invalid", products=["BTC-USD"])
    assert cb.feed.channels == ["ticker", "heartbeats"]
    assert cb.feed.product_ids == ["BTC-USD"]
