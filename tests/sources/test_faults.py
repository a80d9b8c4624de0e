"""Adapters under injected faults: nothing bad gets through, failures are typed, no retry storm."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sources.binance import Binance, BinanceConfig
from sources.coinbase import Coinbase, CoinbaseConfig
from sources.coingecko import CoinGecko, CoinGeckoConfig
from sources.errors import (
    CircuitOpen,
    SourceDecodeError,
    SourceError,
    SourceRateLimited,
    SourceTimeout,
)
from sources.tokenmetrics import TokenMetrics, TokenMetricsConfig
from sources.validate import check_candle
from tests.sources.support import FaultInjector, Router, dumps, make_clock, wiring

T_START = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)


def market_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        price = Decimal(rng.randint(1, 10**8)) / 1000
        rows.append(
            {
                "id": f"coin-{i}",
                "symbol": f"c{i}",
                "name": f"Coin {i}",
                "current_price": price,
                "market_cap": price * 1000,
                "total_volume": price * 10,
                "high_24h": price * Decimal("1.1"),
                "low_24h": price * Decimal("0.9"),
                "last_updated": "2026-01-01T11:00:00.000Z",
            }
        )
    return rows


def kline_rows(n: int) -> list[list]:
    rows = []
    for i in range(n):
        t = int((T_START + timedelta(minutes=i)).timestamp() * 1000)
        o = Decimal(60000 + i)
        rows.append(
            [
                t,
                str(o),
                str(o + 5),
                str(o - 5),
                str(o + 1),
                "1.5",
                t + 59_999,
                "90000",
                10,
                "0.7",
                "42000",
                "0",
            ]
        )
    return rows


def corrupt_markets(rate: float, seed: int):
    rng = random.Random(seed)
    mutations = [
        lambda r: r.__setitem__("current_price", -abs(r["current_price"])),
        lambda r: r.__setitem__("current_price", "NaN"),
        lambda r: r.__setitem__("current_price", None),
        lambda r: r.pop("id"),
        lambda r: r.__setitem__("current_price", True),
        lambda r: r.update(high_24h=r["low_24h"] / 2),
        lambda r: r.__setitem__("last_updated", "not a date"),
        lambda r: r.__setitem__("current_price", 0),
    ]

    def corrupt(body):
        n = 0
        for row in body:
            if rng.random() < rate:
                rng.choice(mutations)(row)
                n += 1
        return body, n

    return corrupt


def corrupt_klines(rate: float, seed: int):
    rng = random.Random(seed)
    mutations = [
        lambda r: r.__setitem__(2, str(Decimal(r[3]) - 1)),  # high < low
        lambda r: r.__setitem__(4, "NaN"),
        lambda r: r.__setitem__(1, "-1"),
        lambda r: r.__setitem__(0, "yesterday"),
        lambda r: r.__delitem__(slice(3, None)),
        lambda r: r.__setitem__(5, "-3"),
        lambda r: r.__setitem__(0, r[0] * 1000),  # microseconds read as ms
    ]

    def corrupt(body):
        n = 0
        for row in body:
            if rng.random() < rate:
                rng.choice(mutations)(row)
                n += 1
        return body, n

    return corrupt


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_corrupted_records_are_quarantined_and_counted_exactly(seed):
    clock = make_clock()
    router = Router(clock).add(
        "/api/v3/coins/markets",
        lambda r: httpx.Response(200, content=dumps(market_rows(250, seed))),
    )
    faults = FaultInjector(router.transport(), corrupt=corrupt_markets(0.2, seed))
    registry = CollectorRegistry()
    cg = CoinGecko(CoinGeckoConfig(calls_per_minute=6000), wiring(faults, clock, registry))
    total_good = 0
    for _ in range(4):
        batch = await cg.markets()
        total_good += len(batch.records)
        for quote in batch.records:
            assert quote.price > 0
            assert quote.price.is_finite()
            assert (
                quote.high_24h is None or quote.low_24h is None or quote.high_24h >= quote.low_24h
            )
    quarantined = sum(
        s.value
        for m in registry.collect()
        if m.name == "cryptoql_source_quarantined"
        for s in m.samples
        if s.name.endswith("_total")
    )
    assert faults.corrupted > 0
    assert quarantined == faults.corrupted == cg.health().quarantined
    assert total_good + faults.corrupted == 4 * 250


async def test_corrupted_klines_never_come_back_as_candles():
    clock = make_clock(datetime(2026, 1, 2, tzinfo=UTC))
    router = Router(clock).add(
        "/api/v3/klines", lambda r: httpx.Response(200, json=kline_rows(500))
    )
    faults = FaultInjector(router.transport(), corrupt=corrupt_klines(0.3, 5))
    bn = Binance(BinanceConfig(), wiring(faults, clock))
    batch = await bn.klines("BTCUSDT", "1m")
    assert len(batch.quarantined) == faults.corrupted > 100
    assert len(batch.records) == 500 - faults.corrupted
    for candle in batch.records:
        check_candle(candle)
        assert T_START <= candle.open_time < T_START + timedelta(minutes=500)


def _adapters(transport, clock):
    w = wiring(transport, clock)
    return {
        "coingecko": (CoinGecko(CoinGeckoConfig(calls_per_minute=6000), w), lambda a: a.markets()),
        "binance": (Binance(BinanceConfig(), w), lambda a: a.klines("BTCUSDT", "1h")),
        "coinbase": (
            Coinbase(CoinbaseConfig(), w),
            lambda a: a.candles(
                "BTC-USD", "1h", T_START + timedelta(hours=8), T_START + timedelta(hours=12)
            ),
        ),
        "tokenmetrics": (
            TokenMetrics(TokenMetricsConfig(api_key="tm-x", calls_per_minute=6000), w),
            lambda a: a.trading_signals([3375], T_START.date(), T_START.date()),
        ),
    }


def _router(clock):
    return (
        Router(clock)
        .add("/api/v3/coins/markets", "coingecko/coins_markets.json")
        .add("/api/v3/klines", "binance/klines_btcusdt_1h.json")
        .add(
            "/api/v3/brokerage/market/products/BTC-USD/candles", "coinbase/candles_btc_usd_1h.json"
        )
        .add("/v2/trading-signals", "tokenmetrics/trading_signals_upper.json")
    )


@pytest.mark.parametrize("name", ["coingecko", "binance", "coinbase", "tokenmetrics"])
@pytest.mark.parametrize("fault", ["truncated", "malformed", "html", "empty"])
async def test_bad_bodies_give_a_typed_error_and_zero_records(name, fault):
    clock = make_clock()
    faults = FaultInjector(_router(clock).transport(), schedule=iter([fault]))
    adapter, call = _adapters(faults, clock)[name]
    with pytest.raises(SourceDecodeError):
        await call(adapter)
    assert faults.injected == [fault]
    assert adapter.health().successes == 0


@pytest.mark.parametrize("name", ["coingecko", "binance", "coinbase", "tokenmetrics"])
async def test_fifty_percent_5xx_every_call_is_good_data_or_a_typed_error(name):
    clock = make_clock()
    faults = FaultInjector(
        _router(clock).transport(), rate=0.5, faults=["5xx", "timeout", "reset"], seed=3
    )
    adapter, call = _adapters(faults, clock)[name]
    outcomes = {"ok": 0, "error": 0}
    for _ in range(40):
        try:
            batch = await call(adapter)
            outcomes["ok"] += 1
            assert batch.records  # the fixtures' good rows
        except SourceError:
            outcomes["error"] += 1
        clock.advance(31)  # let any open breaker half-open again
    assert outcomes["ok"] > 0
    # no retry storm: at most 1 + 10 % extra attempts (+ the initial 3 retry tokens)
    assert len(faults.injected) <= 40 * 1.1 + 3
    health = adapter.health()
    assert health.requests == len(faults.injected)


@pytest.mark.parametrize("name", ["coingecko", "binance", "coinbase", "tokenmetrics"])
async def test_outage_opens_the_breaker_then_half_opens(name):
    clock = make_clock()
    inner = _router(clock).transport()
    down = {"on": True}

    class Switch(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            if down["on"]:
                return httpx.Response(503, text="maintenance")
            return await inner.handle_async_request(request)

    counting = FaultInjector(Switch())  # no faults: only counts upstream calls
    adapter, call = _adapters(counting, clock)[name]
    errors = []
    for _ in range(30):
        try:
            await call(adapter)
        except SourceError as exc:
            errors.append(exc)
        clock.advance(1)
    assert adapter.health().breaker_state == "open"
    assert sum(isinstance(e, CircuitOpen) for e in errors) >= 20
    assert len(counting.injected) <= 7  # 5 failures (with retries) then nothing
    down["on"] = False
    clock.advance(30)
    batch = await call(adapter)  # the half-open probe succeeds
    assert batch.records
    assert adapter.health().breaker_state == "closed"


async def test_429_through_an_adapter_waits_out_retry_after_before_calling_again():
    clock = make_clock()
    router = _router(clock)
    faults = FaultInjector(router.transport(), schedule=iter(["429", "429"]), retry_after="2")
    cg = CoinGecko(CoinGeckoConfig(calls_per_minute=6000), wiring(faults, clock))
    t0 = clock.monotonic()
    batch = await cg.markets()
    assert batch.records
    assert len(router.calls) == 1
    assert router.calls[0].at - t0 >= 4  # two 429s, 2 s each, before the call got through
    assert cg.health().rate_limited == 2


async def test_timeouts_surface_as_source_timeout():
    clock = make_clock()
    faults = FaultInjector(_router(clock).transport(), schedule=iter(["timeout"] * 3))
    bn = Binance(BinanceConfig(), wiring(faults, clock))
    with pytest.raises(SourceTimeout):
        await bn.klines("BTCUSDT", "1h")
    assert len(faults.injected) == 3


async def test_rate_limited_error_is_typed_and_carries_retry_after():
    clock = make_clock()
    faults = FaultInjector(_router(clock).transport(), schedule=iter(["429"]), retry_after="600")
    tm = TokenMetrics(TokenMetricsConfig(api_key="tm-x"), wiring(faults, clock))
    with pytest.raises(SourceRateLimited) as info:
        await tm.trading_signals([3375], T_START.date(), T_START.date())
    assert info.value.retry_after == 600
