"""Signals: values equal talipp's reference computation; the grade formula by hand."""

from __future__ import annotations

import itertools
import math
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from talipp.indicators import ATR, BB, EMA, MACD, RSI, SMA, StdDev
from talipp.ohlcv import OHLCV

from ingest.grade import GradeInputs, trader_grade
from ingest.publish import Publisher
from ingest.registry import AssetSpec, Registry, store_registry
from ingest.signals import SignalEngine
from ingest.writer import Writer
from pubsub import channels
from pubsub.memory import MemoryBroker
from sources.simulated import VENUES, SimulatedMarket
from storage.models import SignalValue

T0 = datetime(2026, 4, 1, tzinfo=UTC)
N = 120


def _series(n: int = N):
    m = SimulatedMarket(99)
    return list(m.candles("ethereum", VENUES[0], "1h", T0, T0 + timedelta(hours=n)))


async def _store(db, candles, *, now=None):
    async with db.sessions() as s:
        await store_registry(
            s, Registry(assets=(AssetSpec("ethereum", "ETH", "Ethereum",
                                          markets=((VENUES[0].source, "ETH-USD", "USD"),)),))
        )  # fmt: skip
        await s.commit()
    writer = Writer(db.sessions, clock=lambda: now or T0 + timedelta(days=30))
    await writer.write(candles=candles)


async def _latest(db, kind: str) -> SignalValue:
    async with db.sessions() as s:
        stmt = (
            select(SignalValue)
            .where(SignalValue.kind == kind)
            .order_by(SignalValue.computed_at.desc())
        )
        return (await s.execute(stmt)).scalars().first()


def _close(a: Decimal, b: float) -> bool:
    return math.isclose(float(a), b, rel_tol=1e-9, abs_tol=1e-12)


async def test_indicator_values_match_talipp_reference_on_a_fixed_series(db):
    candles = _series()
    await _store(db, candles)
    engine = SignalEngine(db.sessions, intervals=("1h",), source_priority=("simulated",))
    async with db.sessions() as s:
        from storage.repositories.ingest import asset_ids_by_canonical

        ids = await asset_ids_by_canonical(s, ["ethereum"])
    rows = await engine.update(ids.values())
    assert {r.kind for r in rows} == {
        "sma_cross", "ema_cross", "rsi", "macd", "bollinger", "atr", "volatility", "trader_grade"
    }  # fmt: skip

    closes = [float(c.close) for c in candles]
    ohlc = [OHLCV(float(c.open), float(c.high), float(c.low), float(c.close)) for c in candles]
    sma20, sma50 = SMA(20, input_values=closes)[-1], SMA(50, input_values=closes)[-1]
    ema12, ema26 = EMA(12, input_values=closes)[-1], EMA(26, input_values=closes)[-1]
    macd = MACD(12, 26, 9, input_values=closes)[-1]
    bb = BB(20, 2.0, input_values=closes)[-1]
    logrets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    vol = StdDev(30, input_values=logrets)[-1] * math.sqrt(365 * 24) * 100

    assert _close((await _latest(db, "rsi")).value, RSI(14, input_values=closes)[-1])
    assert _close((await _latest(db, "sma_cross")).value, (sma20 / sma50 - 1) * 100)
    assert _close((await _latest(db, "ema_cross")).value, (ema12 / ema26 - 1) * 100)
    assert _close((await _latest(db, "macd")).value, macd.histogram)
    assert _close((await _latest(db, "bollinger")).value, (closes[-1] - bb.lb) / (bb.ub - bb.lb))
    assert _close((await _latest(db, "atr")).value, ATR(14, input_values=ohlc)[-1])
    assert _close((await _latest(db, "volatility")).value, vol)
    # …and talipp's SMA is the plain mean (an independent sanity check of the wiring).
    assert math.isclose(sma20, statistics.fmean(closes[-20:]), rel_tol=1e-12)

    rsi = await _latest(db, "rsi")
    assert rsi.source == "cryptoql"
    assert rsi.horizon == "1h"
    assert rsi.computed_at == candles[-1].open_time + timedelta(hours=1)
    assert rsi.details["candles"] == "simulated:alpha USD"
    assert rsi.details["period"] == 14
    grade = await _latest(db, "trader_grade")
    assert 0 <= grade.value <= 100
    assert set(grade.details) >= {"trend", "momentum", "macd", "stability", "weights", "formula"}


async def test_recomputed_incrementally_as_new_candles_close(db):
    candles = _series(N + 3)
    await _store(db, candles[:N])
    broker = MemoryBroker()
    engine = SignalEngine(db.sessions, Publisher(broker), source_priority=("simulated",))
    from storage.repositories.ingest import asset_ids_by_canonical

    async with db.sessions() as s:
        ids = list((await asset_ids_by_canonical(s, ["ethereum"])).values())
    assert len([r for r in await engine.update(ids) if r.kind == "rsi"]) == 1
    assert await engine.update(ids) == []  # nothing new closed: nothing written

    # Three more candles close, and a forming one that must not count.
    forming = candles[-1]
    forming = type(forming)(**{**{f: getattr(forming, f) for f in forming.__slots__},
                               "open_time": forming.open_time + timedelta(hours=1),
                               "is_complete": False})  # fmt: skip
    await _store(db, [*candles[N:], forming], now=T0 + timedelta(days=30))
    async with broker.subscribe(channels.signals("ethereum")) as events:
        new = await engine.update(ids)
        first = await anext(events)
    rsi_rows = [r for r in new if r.kind == "rsi"]
    assert [r.computed_at for r in rsi_rows] == [
        c.open_time + timedelta(hours=1) for c in candles[N:]
    ]
    closes = [float(c.close) for c in candles]
    assert _close(rsi_rows[-1].value, RSI(14, input_values=closes)[-1])
    assert first.data["asset"] == "ethereum"
    assert first.data["source"] == "cryptoql"
    assert await broker.last_seq(channels.data_version("signals")) == 2


async def test_secondary_intervals_get_suffixed_kinds(db):
    day0 = T0
    m = SimulatedMarket(4)
    daily = list(m.candles("ethereum", VENUES[0], "1d", day0, day0 + timedelta(days=80)))
    await _store(db, daily, now=day0 + timedelta(days=200))
    engine = SignalEngine(db.sessions, intervals=("1h", "1d"), source_priority=("simulated",))
    from storage.repositories.ingest import asset_ids_by_canonical

    async with db.sessions() as s:
        ids = list((await asset_ids_by_canonical(s, ["ethereum"])).values())
    rows = await engine.update(ids)
    assert {r.kind for r in rows} >= {"rsi_1d", "trader_grade_1d"}
    assert all(r.horizon == "1d" for r in rows)


def test_trader_grade_formula_by_hand():
    # trend: SMA20/SMA50 = 1.05 → 0.5 + 0.05/0.10 = 1.0 → 100
    # momentum: RSI 60 → 60; macd: 0.5 + (0.5/100)/0.02 = 0.75 → 75
    # stability: 1 − (2/100)/0.10 = 0.8 → 80
    # grade = 0.35·100 + 0.25·60 + 0.25·75 + 0.15·80 = 35 + 15 + 18.75 + 12 = 80.75
    g = trader_grade(GradeInputs(Decimal(100), Decimal(105), Decimal(100), Decimal(60),
                                 Decimal("0.5"), Decimal(2)))  # fmt: skip
    assert g.components == {"trend": 100, "momentum": 60, "macd": 75, "stability": 80}
    assert g.value == Decimal("80.75")
    assert g.direction == "bullish"

    # trend: 98/100 → 0.5 − 0.02/0.10 = 0.3 → 30; macd: 0.5 − (0.5/100)/0.02 = 0.25 → 25
    # stability: ATR 12 % of price → clamped to 0; grade = 10.5 + 8.75 + 6.25 + 0 = 25.5
    g = trader_grade(GradeInputs(Decimal(100), Decimal(98), Decimal(100), Decimal(35),
                                 Decimal("-0.5"), Decimal(12)))  # fmt: skip
    assert g.components == {"trend": 30, "momentum": 35, "macd": 25, "stability": 0}
    assert g.value == Decimal("25.50")
    assert g.direction == "bearish"

    # Saturation both ways, and the neutral band.
    g = trader_grade(GradeInputs(Decimal(10), Decimal(20), Decimal(10), Decimal(50),
                                 Decimal(-5), Decimal(0)))  # fmt: skip
    assert g.components == {"trend": 100, "momentum": 50, "macd": 0, "stability": 100}
    assert g.value == Decimal("62.50")
    assert g.direction == "bullish"
    # Everything at its midpoint (ATR 5 % → stability 50): 50, neutral.
    g = trader_grade(GradeInputs(Decimal(100), Decimal(100), Decimal(100), Decimal(50),
                                 Decimal(0), Decimal(5)))  # fmt: skip
    assert g.value == Decimal("50.00")
    assert g.direction == "neutral"
