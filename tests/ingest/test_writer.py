"""The write path: mapping, guard, rollups with the gap policy, cursors, publish-after-commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from ingest.candles import open_from_close, rollup, rollup_chain
from ingest.publish import Publisher
from ingest.registry import AssetSpec, Registry, store_registry
from ingest.writer import Cursor, Writer
from pubsub import channels
from pubsub.memory import MemoryBroker
from sources.records import CandleRecord, MarketQuote
from storage.models import Candle, Quote
from storage.repositories import ingest as repo
from storage.repositories.ingest import CandleRow

T0 = datetime(2026, 2, 3, 10, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=2)


def _c(minute: int, o: str, h: str, lo: str, c: str, v: str | None = "1", **kw) -> CandleRecord:
    return CandleRecord(
        source=kw.pop("source", "ex"),
        source_id=kw.pop("source_id", "BTC-USD"),
        quote_currency=kw.pop("quote", None),
        interval=kw.pop("interval", "1m"),
        open_time=T0 + timedelta(minutes=minute),
        open=Decimal(o),
        high=Decimal(h),
        low=Decimal(lo),
        close=Decimal(c),
        volume=None if v is None else Decimal(v),
        **kw,
    )


async def _registry(db) -> dict[str, int]:
    async with db.sessions() as s:
        ids = await store_registry(
            s,
            Registry(
                assets=(
                    AssetSpec(
                        "bitcoin", "BTC", "Bitcoin",
                        aliases=(("cg", "bitcoin"),), markets=(("ex", "BTC-USD", "USD"),),
                    ),
                )
            ),
        )  # fmt: skip
        await s.commit()
    return ids


def test_rollup_chain_follows_the_stored_ladder():
    assert rollup_chain("1m") == [("1m", "5m"), ("5m", "1h"), ("1h", "1d")]
    assert rollup_chain("30m") == [("30m", "1h"), ("1h", "1d")]
    assert rollup_chain("4h") == [("4h", "1d")]
    assert rollup_chain("1d") == []
    assert rollup_chain("4d") == []


def test_close_time_is_shifted_to_open_time():
    close = datetime(2026, 1, 1, 4, 0, tzinfo=UTC)
    assert open_from_close(close, "4h") == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert open_from_close(close, "30m") == datetime(2026, 1, 1, 3, 30, tzinfo=UTC)


def test_rollup_aggregates_and_marks_gaps_incomplete():
    def row(minute: int, o: int, h: int, lo: int, c: int, complete: bool = True) -> CandleRow:
        at = T0 + timedelta(minutes=minute)
        ohlc = (Decimal(o), Decimal(h), Decimal(lo), Decimal(c))
        return CandleRow("ex", 1, "USD", "1m", at, *ohlc, Decimal(2), complete)

    full = [row(i, 10 + i, 20 + i, 5 + i, 11 + i) for i in range(5)]
    (bucket,) = rollup(full, "1m", "5m")
    assert (bucket.open, bucket.high, bucket.low, bucket.close) == (10, 24, 5, 15)
    assert bucket.volume == 10
    assert bucket.is_complete
    assert bucket.open_time == T0
    gap = [full[0], full[1], full[3], full[4]]  # minute 2 missing
    assert not rollup(gap, "1m", "5m")[0].is_complete
    forming = [*full[:4], row(4, 14, 24, 9, 15, complete=False)]
    assert not rollup(forming, "1m", "5m")[0].is_complete


async def test_candles_roll_up_in_the_same_transaction_and_converge(db):
    ids = await _registry(db)
    writer = Writer(db.sessions, clock=lambda: NOW)
    # Minutes 0..59 except 30, then the missing minute arrives later (a backfill).
    first = [_c(m, "100", "102", "99", "101") for m in range(60) if m != 30]
    await writer.write(candles=first)
    async with db.sessions() as s:
        hour = (await s.execute(select(Candle).where(Candle.interval == "1h"))).scalar_one()
        day = (await s.execute(select(Candle).where(Candle.interval == "1d"))).scalar_one()
    assert not hour.is_complete
    assert not day.is_complete
    assert hour.volume == Decimal(59)
    await writer.write(candles=[_c(30, "101", "150", "90", "100")])
    async with db.sessions() as s:
        rows = {
            (c.interval, c.open_time): c
            for c in (await s.execute(select(Candle).where(Candle.asset_id == ids["bitcoin"])))
            .scalars()
            .all()
        }
    hour = rows[("1h", T0)]
    assert hour.is_complete
    assert (hour.high, hour.low) == (Decimal(150), Decimal(90))
    assert hour.volume == Decimal(60)
    assert sum(1 for k in rows if k[0] == "5m") == 12
    assert all(rows[("5m", T0 + timedelta(minutes=5 * i))].is_complete for i in range(12))
    # The day bucket has only one of 24 hours: still incomplete (gap policy).
    assert not rows[("1d", T0.replace(hour=0))].is_complete


async def test_bad_and_unmapped_records_are_counted_never_written(db):
    await _registry(db)
    writer = Writer(db.sessions, clock=lambda: NOW)
    bad = [
        _c(0, "100", "99", "98", "101"),  # close above high
        _c(1, "0", "1", "0", "1"),  # zero price
        _c(2, "1", "2", "1", "1", v="-3"),  # negative volume
        _c(3, "1", "2", "1", "1", interval="7m"),  # unknown interval
        _c(4, "NaN", "2", "1", "1"),  # not finite
        CandleRecord(  # a 1h candle opening at :05 (misaligned)
            "ex",
            "BTC-USD",
            None,
            "1h",
            T0 + timedelta(minutes=5),
            Decimal(1),
            Decimal(2),
            Decimal(1),
            Decimal(1),
        ),
        _c(60 * 24 * 3, "1", "2", "1", "1"),  # a day after our clock
    ]
    unmapped = [_c(5, "1", "2", "1", "1", source_id="DOGE-USD")]
    good = [_c(6, "1", "2", "1", "1")]
    result = await writer.write(candles=[*bad, *unmapped, *good])
    assert (result.rejected, result.unmapped) == (len(bad), 1)
    reasons = {r for (_s, _k, r) in writer.stats.rejected}
    assert reasons == {"ohlc_inconsistent", "non_positive", "negative", "bad_interval",
                       "non_finite", "misaligned", "future"}  # fmt: skip
    async with db.sessions() as s:
        stored = (await s.execute(select(Candle).where(Candle.interval == "1m"))).scalars().all()
    assert [c.open_time for c in stored] == [T0 + timedelta(minutes=6)]


async def test_quotes_map_through_markets_and_aliases_with_explicit_quote(db):
    ids = await _registry(db)
    writer = Writer(db.sessions, clock=lambda: NOW)
    quotes = [
        MarketQuote("ex", "BTC-USD", None, Decimal("100"), T0),  # quote from the market row
        MarketQuote("cg", "bitcoin", "EUR", Decimal("90"), T0),  # alias; explicit quote
        MarketQuote("cg", "bitcoin", None, Decimal("90"), T0),  # alias, no quote: unmapped
    ]
    result = await writer.write(quotes=quotes)
    assert result.unmapped == 1
    async with db.sessions() as s:
        rows = (await s.execute(select(Quote).order_by(Quote.source))).scalars().all()
    assert [(q.source, q.asset_id, q.quote_currency) for q in rows] == [
        ("cg", ids["bitcoin"], "EUR"),
        ("ex", ids["bitcoin"], "USD"),
    ]


async def test_publishes_after_commit_and_bumps_versions(db):
    await _registry(db)
    broker = MemoryBroker()
    writer = Writer(db.sessions, Publisher(broker), clock=lambda: NOW)
    async with broker.subscribe(
        channels.prices("bitcoin", "USD"), channels.candles("bitcoin", "1h")
    ) as events:
        await writer.write(
            quotes=[MarketQuote("ex", "BTC-USD", None, Decimal("100.5"), T0)],
            candles=[_c(0, "100", "102", "99", "101")],
            cursors=[Cursor("ex", "1m:BTC-USD", "x")],
        )
        got = [await anext(events) for _ in range(2)]
    tick = next(e for e in got if e.channel.startswith("cryptoql:prices"))
    assert tick.data["price"] == "100.5"
    assert tick.data["source"] == "ex"
    hour = next(e for e in got if e.channel.startswith("cryptoql:candles"))
    assert hour.data["interval"] == "1h"
    assert hour.data["is_complete"] is False
    assert await broker.last_seq(channels.data_version("quotes")) == 1
    assert await broker.last_seq(channels.data_version("candles")) == 1
    async with db.sessions() as s:
        assert await repo.get_cursor(s, "ex", "1m:BTC-USD") == "x"


async def test_a_failing_broker_never_fails_the_write(db):
    await _registry(db)

    class DownBroker:
        async def publish(self, channel, message):
            raise ConnectionError("redis down")

    writer = Writer(db.sessions, Publisher(DownBroker()), clock=lambda: NOW)
    result = await writer.write(quotes=[MarketQuote("ex", "BTC-USD", None, Decimal(1), T0)])
    assert len(result.quotes) == 1
    assert writer.publisher.stats.failures == 2  # the tick and the version bump
    async with db.sessions() as s:
        assert len((await s.execute(select(Quote))).scalars().all()) == 1


async def test_a_failed_transaction_writes_nothing_and_moves_no_cursor(db):
    await _registry(db)
    writer = Writer(db.sessions, clock=lambda: NOW)

    async def explode(*_a, **_kw):
        raise RuntimeError("disk full")

    # Rows, rollups and cursor are sent; then the unit of work fails before its commit.
    writer.canonical = explode
    with pytest.raises(RuntimeError):
        await writer.write(
            candles=[_c(0, "1", "2", "1", "1")], cursors=[Cursor("ex", "s", "later")]
        )
    async with db.sessions() as s:
        assert await repo.get_cursor(s, "ex", "s") is None
        assert (await s.execute(select(Candle))).first() is None
