"""CoinGecko adapter over the project's fixtures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sources.coingecko import CoinGecko, CoinGeckoConfig, ohlc_interval
from sources.errors import (
    SourceAuthError,
    SourceDecodeError,
    SourcePlanRestricted,
    SourceRateLimited,
)
from tests.sources.support import Router, fixture_response, make_clock, wiring

NOON = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def adapter(router, clock, config=None, registry=None):
    return CoinGecko(config or CoinGeckoConfig(), wiring(router.transport(), clock, registry))


@pytest.mark.parametrize(
    ("config", "host", "header"),
    [
        (CoinGeckoConfig(), "api.coingecko.com", None),
        (CoinGeckoConfig(plan="demo", api_key="CG-demo"), "api.coingecko.com", "x-cg-demo-api-key"),
        (
            CoinGeckoConfig(plan="pro", api_key="CG-pro"),
            "pro-api.coingecko.com",
            "x-cg-pro-api-key",
        ),
    ],
)
async def test_plan_selects_host_header_and_budget(config, host, header):
    clock = make_clock()
    seen = []

    def capture(request):
        seen.append(request)
        return fixture_response("coingecko/asset_platforms.json")

    router = Router(clock).add("/api/v3/asset_platforms", capture)
    cg = adapter(router, clock, config)
    await cg.asset_platforms()
    await cg.aclose()
    assert seen[0].url.host == host
    keys = {k.lower() for k in seen[0].headers}
    assert not any(k.startswith("x-cg-") for k in keys - {header})
    if header:
        assert seen[0].headers[header] == config.api_key
    assert cg.client.policy.rate_limit.limit == {"public": 10, "demo": 30, "pro": 500}[config.plan]


def test_keyed_plans_need_a_key():
    with pytest.raises(ValueError, match="api_key"):
        CoinGeckoConfig(plan="pro")


async def test_coins_list_reads_platforms_and_quarantines_bad_rows():
    clock = make_clock()
    router = Router(clock).add("/api/v3/coins/list", "coingecko/coins_list.json")
    registry = CollectorRegistry()
    cg = adapter(router, clock, registry=registry)
    batch = await cg.coins_list()
    by_id = {c.id: c for c in batch.records}
    assert router.calls[0].params == {"include_platform": "true"}
    assert by_id["bitcoin"].platforms == ()
    assert by_id["ethereum"].platforms == ()  # {"": ""} means native, not a contract
    assert (
        by_id["usd-coin"].platform_map()["ethereum"] == "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
    )
    assert len(by_id["usd-coin"].platforms) == 5
    assert {q.reason for q in batch.quarantined} == {"missing_field", "wrong_type"}
    assert len(batch.quarantined) == 2
    assert cg.health().quarantined == 2
    assert (
        registry.get_sample_value(
            "cryptoql_source_quarantined_total",
            {"source": "coingecko", "kind": "coin_listing", "reason": "missing_field"},
        )
        == 1
    )


async def test_asset_platforms_keep_evm_chain_ids():
    clock = make_clock()
    router = Router(clock).add("/api/v3/asset_platforms", "coingecko/asset_platforms.json")
    batch = await adapter(router, clock).asset_platforms()
    by_id = {p.id: p for p in batch.records}
    assert by_id["arbitrum-one"].chain_identifier == 42161
    assert by_id["solana"].chain_identifier is None
    assert by_id["polygon-pos"].native_coin_id == "matic-network"


async def test_markets_parse_decimals_legacy_rows_and_quarantine_bad_prices():
    clock = make_clock()
    router = Router(clock).add("/api/v3/coins/markets", "coingecko/coins_markets.json")
    cg = adapter(router, clock)
    batch = await cg.markets("usd", ids=["bitcoin", "ethereum"])
    params = router.calls[0].params
    assert params["vs_currency"] == "usd"
    assert params["ids"] == "bitcoin,ethereum"
    assert params["price_change_percentage"] == "1h,24h,7d"
    btc, eth = batch.records
    assert btc.price == Decimal("64321.123456789012")  # float text parsed exactly
    assert btc.quote_currency == "USD"
    assert btc.observed_at == datetime(2026, 1, 1, 11, 59, 30, 123000, tzinfo=UTC)
    assert btc.change_1h == Decimal("-0.12")
    assert btc.change_24h == Decimal("1.2501")  # the _in_currency figure wins
    assert btc.rank == 1
    # Legacy row: no last_updated (stamped with the fetch time), no _in_currency keys.
    assert eth.observed_at == clock.now()
    assert eth.change_24h == Decimal("-0.5")
    assert eth.change_1h is None
    assert eth.high_24h is None
    assert eth.max_supply is None
    reasons = sorted(q.reason for q in batch.quarantined)
    assert reasons == ["missing_field", "non_finite", "non_positive", "ohlc_inconsistent"]
    assert cg.health().quarantined == 4


async def test_simple_price_in_another_currency():
    clock = make_clock()
    router = Router(clock).add("/api/v3/simple/price", "coingecko/simple_price.json")
    batch = await adapter(router, clock).simple_price(["bitcoin", "ethereum"], "EUR")
    assert router.calls[0].params["vs_currencies"] == "eur"
    btc = next(q for q in batch.records if q.source_id == "bitcoin")
    assert btc.quote_currency == "EUR"
    assert btc.price == Decimal("59123.4567891234")
    assert btc.volume_24h == Decimal("25800000000.25")
    assert btc.observed_at == datetime.fromtimestamp(1767268700, UTC)


async def test_ohlc_close_times_become_open_times():
    clock = make_clock(datetime(2026, 1, 1, 11, 0, tzinfo=UTC))
    router = Router(clock).add("/api/v3/coins/bitcoin/ohlc", "coingecko/coins_ohlc_4h.json")
    cg = adapter(router, clock)
    batch = await cg.ohlc("bitcoin", "usd", days="7")
    assert [c.interval for c in batch.records] == ["4h"] * 3
    first = batch.records[0]
    # close 2026-01-01T00:00 → open 2025-12-31T20:00
    assert first.open_time == datetime(2025, 12, 31, 20, 0, tzinfo=UTC)
    assert first.volume is None
    assert first.open == Decimal("63000.5")
    last = batch.records[-1]
    assert last.open_time == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    assert last.is_complete is False  # closes at 12:00, the clock says 11:00
    assert all(c.is_complete for c in batch.records[:-1])
    assert [q.reason for q in batch.quarantined] == ["ohlc_inconsistent"]


def test_ohlc_interval_prefers_observed_spacing_over_the_docs_table():
    four_h = [0, 14_400_000, 28_800_000]
    assert ohlc_interval("1", four_h) == "4h"  # the docs' own days=1 example is 4-hourly
    assert ohlc_interval("1", [0]) == "30m"
    assert ohlc_interval("14", []) == "4h"
    assert ohlc_interval("max", []) == "4d"
    assert ohlc_interval("90", [0, 345_600_000]) == "4d"


async def test_ohlc_rejects_undocumented_day_counts_and_odd_ids_before_any_call():
    clock = make_clock()
    router = Router(clock)
    cg = adapter(router, clock)
    with pytest.raises(ValueError, match="days"):
        await cg.ohlc("bitcoin", days="3")
    for bad in ("../simple/price", "Bitcoin", "bit coin", "a/b"):
        with pytest.raises(ValueError, match="CoinGecko id"):
            await cg.market_chart(bad)
    assert router.count() == 0


async def test_market_chart_joins_series_on_the_timestamp():
    clock = make_clock()
    router = Router(clock).add(
        "/api/v3/coins/bitcoin/market_chart", "coingecko/coins_market_chart.json"
    )
    batch = await adapter(router, clock).market_chart("bitcoin", "usd", days="2")
    assert len(batch.records) == 3
    point = batch.records[1]
    assert point.ts == datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
    assert point.price == Decimal("64010.5")
    assert point.market_cap == Decimal("1262000000000")
    assert point.volume_24h == Decimal("27500000000.5")
    assert batch.records[-1].ts - batch.records[-2].ts < timedelta(hours=1)  # the unaligned "now"


async def test_tickers_bridge_rows():
    clock = make_clock()
    router = Router(clock).add(
        "/api/v3/coins/bitcoin/tickers", "coingecko/coins_tickers_binance.json"
    )
    batch = await adapter(router, clock).coin_tickers("bitcoin", ["binance"])
    assert router.calls[0].params == {"exchange_ids": "binance"}
    first = batch.records[0]
    assert (first.exchange, first.base, first.target) == ("binance", "BTC", "USDT")
    assert (first.coin_id, first.target_coin_id) == ("bitcoin", "tether")


@pytest.mark.parametrize(
    ("fixture", "error"),
    [
        ("coingecko/error_10002.json", SourceAuthError),
        ("coingecko/error_10010.json", SourceAuthError),
        ("coingecko/error_10005.json", SourcePlanRestricted),
        ("coingecko/error_429.json", SourceRateLimited),
    ],
)
async def test_error_envelopes_map_to_the_error_tree(fixture, error):
    clock = make_clock()
    router = Router(clock).add("/api/v3/coins/list", fixture)
    cg = adapter(router, clock)
    with pytest.raises(error) as info:
        await cg.coins_list()
    if error is SourceRateLimited:
        assert info.value.retry_after == 7
        assert router.count() == 1  # Retry-After 7 s exceeds the 5 s deadline: no retry
    else:
        assert router.count() == 1  # auth/plan errors are never retried
        assert "error 100" in str(info.value)
    assert cg.health().breaker_state == "closed"


async def test_an_error_envelope_with_status_200_is_not_data():
    clock = make_clock()
    router = Router(clock).add(
        "/api/v3/coins/markets",
        lambda r: httpx.Response(
            200, json={"status": {"error_code": 1020, "error_message": "Access denied"}}
        ),
    )
    with pytest.raises(SourceAuthError):
        await adapter(router, clock).markets()
    router2 = Router(clock).add(
        "/api/v3/coins/markets",
        lambda r: httpx.Response(
            200, json={"status": {"error_code": 9999, "error_message": "odd"}}
        ),
    )
    with pytest.raises(SourceDecodeError):
        await adapter(router2, clock).markets()


def test_noon_constant_is_after_the_fixture_clock():
    assert make_clock().now() < NOON
