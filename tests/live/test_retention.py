"""Quote retention: old simulated quotes go; candles, newer and real quotes stay (both DBs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.ingest_component import live_options
from ingest.config import IngestConfig
from ingest.retention import RetentionFeed, RetentionOptions
from ingest.runner import IngestRunner, LiveOptions
from storage.models import Candle, Quote
from tests.conftest import make_settings
from tests.factories import Factory
from tests.live.support import until

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


async def seed(db) -> None:
    f = Factory(db.sessions)
    btc = await f.asset("bitcoin", symbol="BTC")
    for hours in (1, 47, 49, 50, 72, 200):  # 4 of these are older than 48 h
        at = NOW - timedelta(hours=hours)
        for venue in ("simulated:alpha", "simulated:beta"):
            await f.quote(btc, venue, "64000", observed_at=at)
        await f.quote(btc, "binance", "64001", observed_at=at, quote_currency="USDT")
    bars = [("64000", "64010", "63990", "64005", "1")] * 3
    await f.candles(btc, "1h", NOW - timedelta(hours=100), bars, source="simulated:alpha")


async def counts(db) -> dict[str, int]:
    async with db.sessions() as s:
        rows = (await s.execute(select(Quote.source, func.count()).group_by(Quote.source))).all()
        candles = (await s.execute(select(func.count()).select_from(Candle))).scalar_one()
    return {**dict(rows), "candles": candles}


async def test_old_simulated_quotes_are_pruned_in_batches(db):
    await seed(db)
    feed = RetentionFeed(db.sessions, RetentionOptions(batch=3), clock=lambda: NOW)
    assert await feed.run_once() == 8  # 4 old stamps x 2 venues, in batches of 3
    assert await counts(db) == {
        "simulated:alpha": 2,
        "simulated:beta": 2,
        "binance": 6,  # real quotes are kept by default
        "candles": 3,
    }
    assert await feed.run_once() == 0  # idempotent
    assert feed.stats()["deleted"] == 8


async def test_real_quotes_have_their_own_optional_retention(db):
    await seed(db)
    options = RetentionOptions(simulated_quote_hours=0, real_quote_hours=60)
    await RetentionFeed(db.sessions, options, clock=lambda: NOW).run_once()
    assert await counts(db) == {
        "simulated:alpha": 6,
        "simulated:beta": 6,
        "binance": 4,  # 72 h and 200 h went
        "candles": 3,
    }


async def test_the_runner_prunes_on_its_schedule(db):
    await seed(db)
    live = LiveOptions(retention=RetentionOptions(every_seconds=0.05))
    runner = IngestRunner(IngestConfig(mode="real"), db.sessions, live=live, clock=lambda: NOW)
    runner.start()
    try:

        async def pruned():
            return (await counts(db)).get("simulated:alpha") == 2

        await until(pruned, within=10, every=0.05)
        assert runner.status()["retention"]["passes"] >= 1
    finally:
        await runner.stop()


def test_settings():
    options = live_options(make_settings("sqlite://")).retention
    assert options is not None and options.simulated_quote_hours == 48
    assert options.real_quote_hours == 0 and options.enabled
    off = live_options(make_settings("sqlite://", retention_simulated_quote_hours=0)).retention
    assert off is not None and not off.enabled
