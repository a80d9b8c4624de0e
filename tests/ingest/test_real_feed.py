"""The real-source feed against the documented wire formats (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import select

from ingest.config import IngestConfig, RealSources
from ingest.real_feed import RealFeed
from ingest.writer import Writer
from sources.base import Wiring
from storage.models import Asset, Candle, Market, Quote
from storage.repositories import ingest as repo

NOW = M0 = datetime.now(UTC)  # set per test run by _clock()


async def _clock() -> None:
    """Pin NOW to the current minute, avoiding the last seconds of a minute: the forming
    kline must still be forming when the adapter compares its close time with the clock."""
    global NOW, M0
    if datetime.now(UTC).second >= 50:
        await asyncio.sleep(61 - datetime.now(UTC).second)
    NOW = datetime.now(UTC).replace(second=0, microsecond=0)
    M0 = NOW - timedelta(minutes=3)


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _kline(open_time: datetime, o: str, h: str, lo: str, c: str) -> list[object]:
    close = open_time + timedelta(minutes=1) - timedelta(milliseconds=1)
    return [_ms(open_time), o, h, lo, c, "1.5", _ms(close), "100", 7, "0.7", "50", "0"]


def handler(request: httpx.Request) -> httpx.Response:
    host, path = request.url.host, request.url.path
    if host == "binance.test" and path == "/api/v3/exchangeInfo":
        return httpx.Response(200, json={"symbols": [
            {"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "status": "TRADING"},
            {"symbol": "PEPEUSDT", "baseAsset": "PEPE", "quoteAsset": "USDT", "status": "TRADING"},
        ]})  # fmt: skip
    if host == "binance.test" and path == "/api/v3/ticker/24hr":
        return httpx.Response(200, json=[{
            "symbol": "BTCUSDT", "lastPrice": "87000.10", "closeTime": _ms(NOW),
            "quoteVolume": "123456.7", "volume": "1.42", "priceChangePercent": "-1.25",
            "highPrice": "88000", "lowPrice": "86000", "bidPrice": "87000", "askPrice": "87000.2",
        }])  # fmt: skip
    if host == "binance.test" and path == "/api/v3/klines":
        assert request.url.params["symbol"] == "BTCUSDT"
        return httpx.Response(200, json=[
            _kline(M0, "86990", "87010", "86980", "87000"),
            _kline(M0 + timedelta(minutes=1), "87000", "87020", "86995", "87010"),
            _kline(M0 + timedelta(minutes=2), "87010", "87030", "87000", "87020"),
            _kline(NOW, "87020", "87040", "87010", "87030"),  # still forming
            _kline(NOW - timedelta(hours=1), "87000", "86000", "86500", "86600"),  # high < low
        ])  # fmt: skip
    if host == "coinbase.test" and path.endswith("/market/products"):
        return httpx.Response(200, json={"products": [
            {"product_id": "BTC-USD", "base_currency_id": "BTC", "quote_currency_id": "USD",
             "status": "online"},
        ]})  # fmt: skip
    if host == "coinbase.test" and "/candles" in path:
        start = int(request.url.params["start"])
        rows = [
            {"start": str(int((M0 + timedelta(minutes=i)).timestamp())), "low": "86900",
             "high": "87100", "open": "87000", "close": "87050", "volume": "2.5"}
            for i in range(3)
            if (M0 + timedelta(minutes=i)).timestamp() >= start
        ]  # fmt: skip
        return httpx.Response(200, json={"candles": rows[::-1]})  # newest first, as documented
    return httpx.Response(404, json={"message": f"unexpected {request.url}"})


async def test_one_cycle_maps_identity_and_stores_quotes_and_candles(db):
    await _clock()
    config = IngestConfig(
        mode="real",
        assets=("bitcoin",),
        real=RealSources(
            binance_url="http://binance.test",
            coinbase_url="http://coinbase.test/api/v3/brokerage",
            initial_candle_hours=1,
        ),
    )
    writer = Writer(db.sessions)
    feed = RealFeed(
        writer,
        config,
        ["binance", "coinbase"],
        wiring=Wiring(transport=httpx.MockTransport(handler)),
    )
    try:
        await feed.run_once()
    finally:
        await feed.aclose()

    async with db.sessions() as s:
        assets = (await s.execute(select(Asset.canonical_id))).scalars().all()
        markets = {
            (m.source, m.symbol, m.quote_currency)
            for m in (await s.execute(select(Market))).scalars()
        }
        quote = (await s.execute(select(Quote))).scalar_one()
        candles = (
            (
                await s.execute(
                    select(Candle)
                    .where(Candle.interval == "1m")
                    .order_by(Candle.source, Candle.open_time)
                )
            )
            .scalars()
            .all()
        )
        cursor = await repo.get_cursor(s, "binance", "1m:BTCUSDT")
    # Only the configured asset, and never PEPE (not asked for, and not mapped by ticker).
    assert assets == ["bitcoin"]
    assert markets == {("binance", "BTCUSDT", "USDT"), ("coinbase", "BTC-USD", "USD")}
    # USDT is not USD: the Binance quote keeps its quote currency.
    assert (quote.source, quote.quote_currency, quote.price) == (
        "binance",
        "USDT",
        Decimal("87000.10"),
    )
    binance = [c for c in candles if c.source == "binance"]
    coinbase = [c for c in candles if c.source == "coinbase"]
    assert [c.open_time for c in binance] == [M0 + timedelta(minutes=i) for i in range(4)]
    assert [c.is_complete for c in binance] == [True, True, True, False]
    assert len(coinbase) == 3
    assert coinbase[0].quote_currency == "USD"
    # The cursor points after the last complete candle; the bad kline was quarantined.
    assert cursor == NOW.isoformat()
