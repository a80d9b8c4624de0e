"""The runner: offline it falls back to the simulated market inside the app, at once."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select

from app.ingest_component import ingest_config, ingest_should_run
from app.main import create_app
from app.settings import Settings
from ingest.runner import IngestRunner
from storage.models import Asset, Candle, Chain, Quote, SignalValue, TokenContract
from tests.conftest import make_settings, running_app

# Loopback addresses with nothing listening: the probe fails fast, without leaving the machine.
CLOSED = "http://127.0.0.1:9"
OFFLINE = {
    "ingest_coingecko_url": CLOSED,
    "ingest_binance_url": CLOSED,
    "ingest_coinbase_url": CLOSED,
    "eth_rpc_url": CLOSED,
    "ingest_probe_timeout_seconds": 1.0,
}


def test_ingest_is_off_in_tests_unless_asked_for():
    assert not ingest_should_run(make_settings("sqlite://"))
    assert ingest_should_run(make_settings("sqlite://", ingest_enabled=True))
    dev = Settings(database_url="sqlite://", env="development")
    assert ingest_should_run(dev)
    assert not ingest_should_run(Settings(database_url="sqlite://", ingest_enabled=False))


async def _wait_for(db, predicate, within: float = 30.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with db.sessions() as s:
            value = await predicate(s)
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


async def test_offline_serve_shows_a_live_simulated_market_within_seconds(db, caplog):
    settings = make_settings(
        db.url,
        ingest_enabled=True,
        simulated_tick_seconds=0.25,
        simulated_history_days=3,
        simulated_minute_hours=1,
        **OFFLINE,
    )
    caplog.set_level(logging.WARNING, logger="cryptoql.ingest")
    app = create_app(settings)
    async with running_app(app) as client:
        # The server answers while the probe and the first writes are still going on.
        assert (await client.get("/healthz")).status_code == 200

        async def quotes(s):
            stmt = (
                select(Quote.source, Quote.observed_at)
                .join(Asset)
                .where(Asset.canonical_id == "bitcoin")
            )
            return (await s.execute(stmt)).all()

        first = await _wait_for(db, quotes)
        assert {src for src, _ in first} <= {"simulated:alpha", "simulated:beta", "simulated:gamma"}

        async def ticking(s):
            stmt = select(func.count(func.distinct(Quote.observed_at)))
            return (await s.execute(stmt)).scalar_one() >= 3

        await _wait_for(db, ticking)

        async def signals(s):
            return (await s.execute(select(func.count()).select_from(SignalValue))).scalar_one()

        await _wait_for(db, signals, within=60)
    assert "No upstream source is reachable" in caplog.text
    assert "SIMULATED" in caplog.text
    async with db.sessions() as s:
        chain = (await s.execute(select(Chain))).scalar_one()
        tokens = (await s.execute(select(TokenContract.address))).scalars().all()
        hourly = (await s.execute(select(func.count()).where(Candle.interval == "1h"))).scalar_one()
    assert chain.caip2 == "eip155:1"
    assert set(tokens) == {
        "0xdac17f958d2ee523a2206206994597c13d831ec7",
        "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
    }
    assert hourly >= 9 * 3 * 24  # at least a day of history per asset and venue


async def test_probe_picks_the_sources_that_answer(db):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "binance.test":
            return httpx.Response(200, json={})
        if request.url.host == "coinbase.test":
            return httpx.Response(429, json={})  # rate limited is still reachable
        raise httpx.ConnectError("unreachable", request=request)

    settings = make_settings(
        db.url,
        ingest_coingecko_url="http://coingecko.test/api/v3",
        ingest_binance_url="http://binance.test",
        ingest_coinbase_url="http://coinbase.test/api/v3/brokerage",
        eth_rpc_url="http://eth.test",
    )
    runner = IngestRunner(
        ingest_config(settings), db.sessions, probe_transport=httpx.MockTransport(answer)
    )
    reachable = await runner.choose()
    assert reachable == ["binance", "coinbase"]
    assert runner.mode == "real"
    feeds = runner.build(reachable)
    assert [f.name for f in feeds] == ["real"]
    assert feeds[0].sources == ["binance", "coinbase"]
    status = runner.status()
    assert status["mode"] == "real"
    assert not status["simulated"]


async def test_ingest_once_in_simulated_mode_fills_history_and_signals(db):
    settings = make_settings(
        db.url, ingest_mode="simulated", simulated_history_days=3, ingest_assets=["bitcoin"]
    )
    runner = IngestRunner(ingest_config(settings), db.sessions)
    await runner.run_once()
    async with db.sessions() as s:
        now = datetime.now(UTC)
        newest = (await s.execute(select(func.max(Candle.open_time)))).scalar_one()
        kinds = set((await s.execute(select(SignalValue.kind))).scalars())
        assets = (await s.execute(select(Asset.canonical_id))).scalars().all()
    assert assets == ["bitcoin"]
    assert (now - newest).total_seconds() < 120
    assert {"rsi", "macd", "trader_grade"} <= kinds
    assert runner.status()["mode"] == "simulated"
