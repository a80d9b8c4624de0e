"""The tickers bridge: exchange codes beyond the override file map through CoinGecko's tickers.

Documented formats (``/coins/list``, ``/coins/{id}/tickers``, Binance
``exchangeInfo`` and ``ticker/24hr``) through ``httpx.MockTransport``; both DB
backends. Nothing is matched on a ticker alone: a code the bridge names two
assets for stays unmapped.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from sqlalchemy import select

from ingest.config import IngestConfig, RealSources
from ingest.real_feed import RealFeed
from ingest.writer import Writer
from sources.base import Wiring
from sources.errors import SourceRateLimited, SourceUnavailable
from sources.http import ManualClock
from storage.models import Asset, Market, Quote

ASSETS = ("bitcoin", "tether", "cardano", "dogecoin", "baby-doge")


def ticker(base: str, target: str, coin: str, target_coin: str | None) -> dict[str, object]:
    return {
        "base": base,
        "target": target,
        "market": {"name": "Binance", "identifier": "binance"},
        "last": 1.0,
        "coin_id": coin,
        "target_coin_id": target_coin,
    }


TICKERS = {
    "cardano": [
        ticker("ADA", "USDT", "cardano", "tether"),
        ticker("ADA", "BTC", "cardano", "bitcoin"),
    ],
    "dogecoin": [ticker("DOGE", "USDT", "dogecoin", "tether")],
    # A listing glitch: another asset's tickers also claim the code DOGE on Binance.
    "baby-doge": [ticker("DOGE", "USDT", "baby-doge", "tether")],
    "bitcoin": [ticker("BTC", "USDT", "bitcoin", "tether")],
    "tether": [],
}


class FakeUpstream:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.tickers_down = False
        self.tickers_budget: int | None = None  # ticker calls answered before 503s start
        self.exchange_filters: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls[path] += 1
        if path == "/api/v3/coins/list":
            return httpx.Response(200, json=[
                {"id": "bitcoin", "symbol": "btc", "name": "Bitcoin", "platforms": {}},
                {"id": "tether", "symbol": "usdt", "name": "Tether", "platforms": {}},
                {"id": "cardano", "symbol": "ada", "name": "Cardano", "platforms": {}},
                {"id": "dogecoin", "symbol": "doge", "name": "Dogecoin", "platforms": {}},
                {"id": "baby-doge", "symbol": "babydoge", "name": "Baby Doge", "platforms": {}},
                {"id": "pepe", "symbol": "pepe", "name": "Pepe", "platforms": {}},
            ])  # fmt: skip
        if path == "/api/v3/asset_platforms":
            return httpx.Response(200, json=[])
        if path.startswith("/api/v3/coins/") and path.endswith("/tickers"):
            if self.tickers_budget is not None:
                self.tickers_budget -= 1
            if self.tickers_down or (self.tickers_budget is not None and self.tickers_budget < 0):
                return httpx.Response(503, text="busy")
            self.exchange_filters.add(request.url.params["exchange_ids"])
            coin = path.split("/")[4]
            return httpx.Response(200, json={"name": coin, "tickers": TICKERS[coin]})
        if path == "/api/v3/exchangeInfo":
            return httpx.Response(200, json={"symbols": [
                {"symbol": s, "baseAsset": b, "quoteAsset": "USDT", "status": "TRADING"}
                for s, b in (("BTCUSDT", "BTC"), ("ADAUSDT", "ADA"), ("DOGEUSDT", "DOGE"),
                             ("PEPEUSDT", "PEPE"))
            ]})  # fmt: skip
        if path == "/api/v3/klines":
            return httpx.Response(200, json=[])
        if path == "/api/v3/ticker/24hr":
            now = int(datetime.now(UTC).timestamp() * 1000)
            return httpx.Response(200, json=[
                {"symbol": "ADAUSDT", "lastPrice": "0.6512", "closeTime": now},
            ])  # fmt: skip
        return httpx.Response(404, json={"error": str(request.url)})


def make_feed(db, upstream: FakeUpstream) -> RealFeed:
    config = IngestConfig(
        mode="real",
        assets=ASSETS,
        real=RealSources(coingecko_url="http://cg.test/api/v3", binance_url="http://bn.test"),
    )
    return RealFeed(
        Writer(db.sessions),
        config,
        ["coingecko", "binance"],
        # A manual clock: CoinGecko's public budget (10 calls/min) is paced without waiting.
        wiring=Wiring(
            transport=httpx.MockTransport(upstream), clock=ManualClock(datetime.now(UTC))
        ),
    )


async def stored_markets(db) -> dict[str, str]:
    async with db.sessions() as s:
        stmt = select(Market.symbol, Asset.canonical_id).join(
            Asset, Asset.id == Market.base_asset_id
        )
        return dict((await s.execute(stmt.where(Market.source == "binance"))).all())


async def test_bridge_maps_codes_the_override_file_does_not_know(db):
    upstream = FakeUpstream()
    feed = make_feed(db, upstream)
    try:
        await feed.refresh_identity()
        # Before the bridge: only the override file's majors resolve.
        assert await stored_markets(db) == {"BTCUSDT": "bitcoin"}

        assert await feed.refresh_bridge() == len(ASSETS)
        # ADA maps through the tickers; DOGE is claimed by two assets (reported, not
        # guessed); PEPE is not followed and has no mapping data anyway.
        assert await stored_markets(db) == {"BTCUSDT": "bitcoin", "ADAUSDT": "cardano"}
        assert feed.markets["binance"] == ["ADAUSDT", "BTCUSDT"]
        assert upstream.exchange_filters == {"binance"}  # Coinbase is not followed here

        # The mapped market carries quotes to the right asset.
        await feed.binance_cycle()
        async with db.sessions() as s:
            rows = (
                await s.execute(
                    select(Asset.canonical_id, Quote.price, Quote.quote_currency).join(Asset)
                )
            ).all()
        assert rows == [("cardano", Decimal("0.6512"), "USDT")]

        # CoinGecko's tickers fail later: the pass ends early, and a later identity
        # refresh keeps what the bridge established.
        upstream.tickers_down = True
        calls = upstream.calls.copy()
        try:
            await feed.refresh_bridge()
        except (SourceUnavailable, SourceRateLimited):
            pass  # a 503, or its retry refused by the 10 calls/min budget
        else:
            raise AssertionError("an unavailable CoinGecko must end the bridge pass")
        tickers_calls = sum(n for p, n in upstream.calls.items() if p.endswith("/tickers"))
        assert tickers_calls - sum(n for p, n in calls.items() if p.endswith("/tickers")) <= 3
        await feed.refresh_identity()
        assert await stored_markets(db) == {"BTCUSDT": "bitcoin", "ADAUSDT": "cardano"}
    finally:
        await feed.aclose()


async def test_bridge_is_off_without_coingecko_or_when_disabled(db):
    upstream = FakeUpstream()
    feed = make_feed(db, upstream)
    feed.bridge = False
    try:
        await feed.refresh_identity()
        assert await feed.refresh_bridge() == 0
        assert not any(p.endswith("/tickers") for p in upstream.calls)
        assert await stored_markets(db) == {"BTCUSDT": "bitcoin"}
    finally:
        await feed.aclose()


def tickers_calls(upstream: FakeUpstream) -> list[str]:
    return [p.split("/")[4] for p in upstream.calls.elements() if p.endswith("/tickers")]


async def test_an_interrupted_bridge_pass_keeps_what_it_fetched_and_resumes(db):
    upstream = FakeUpstream()
    upstream.tickers_budget = 3  # bitcoin, tether and cardano answer; then CoinGecko fails
    feed = make_feed(db, upstream)
    try:
        await feed.refresh_identity()
        try:
            await feed.refresh_bridge()
        except (SourceUnavailable, SourceRateLimited):
            pass
        else:
            raise AssertionError("the failing call must end the pass")
        # What was fetched before the failure is already in use.
        assert await stored_markets(db) == {"BTCUSDT": "bitcoin", "ADAUSDT": "cardano"}
        assert not feed.bridge_complete()

        upstream.tickers_budget = None
        upstream.calls.clear()
        assert await feed.refresh_bridge(only_missing=True) == 2
        assert sorted(set(tickers_calls(upstream))) == ["baby-doge", "dogecoin"]
        assert feed.bridge_complete()
    finally:
        await feed.aclose()
