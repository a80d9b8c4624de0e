"""Binance spot REST adapter over the project's fixtures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from sources.binance import Binance, BinanceConfig, ticker_weight
from sources.errors import SourceRateLimited, SourceRequestError
from tests.sources.support import Router, fixture_response, make_clock, wiring


def adapter(router, clock, config=None):
    return Binance(config or BinanceConfig(), wiring(router.transport(), clock))


async def test_klines_parse_strings_open_times_and_the_forming_candle():
    clock = make_clock()  # 2026-01-01T11:30Z
    router = Router(clock).add("/api/v3/klines", "binance/klines_btcusdt_1h.json")
    bn = adapter(router, clock)
    start = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
    batch = await bn.klines("BTCUSDT", "1h", start=start, limit=5000, quote_currency="USDT")
    params = router.calls[0].params
    assert params == {
        "symbol": "BTCUSDT",
        "interval": "1h",
        "limit": "1000",  # capped at the documented maximum
        "startTime": "1767247200000",
    }
    assert router.calls[0].headers["user-agent"].startswith("cryptoql/")
    opens = [c.open_time.hour for c in batch.records]
    assert opens == [8, 9, 10, 11]
    legacy, full = batch.records[0], batch.records[1]
    assert legacy.quote_volume is None
    assert legacy.trades is None
    assert full.open == Decimal("63400.00000000")
    assert full.volume == Decimal("20.12345678")
    assert full.quote_volume == Decimal("1283100.12345678")
    assert full.trades == 1500
    assert full.quote_currency == "USDT"
    assert [c.is_complete for c in batch.records] == [True, True, True, False]
    assert sorted(q.reason for q in batch.quarantined) == ["non_finite", "ohlc_inconsistent"]
    assert bn.used_weight == 12


async def test_klines_validate_arguments_before_any_call():
    clock = make_clock()
    router = Router(clock)
    bn = adapter(router, clock)
    with pytest.raises(ValueError, match="interval"):
        await bn.klines("BTCUSDT", "7m")
    with pytest.raises(ValueError, match="symbol"):
        await bn.klines("btc/usdt&x=1", "1h")
    assert router.count() == 0


async def test_tickers_24h_full_mini_and_halted_rows():
    clock = make_clock()
    router = Router(clock).add("/api/v3/ticker/24hr", "binance/ticker_24hr.json")
    router.add("/api/v3/exchangeInfo", "binance/exchange_info.json")
    bn = adapter(router, clock)
    markets = {m.symbol: m for m in (await bn.exchange_info()).records}
    batch = await bn.tickers_24h(["BTCUSDT", "ETHBTC", "OLDUSDT"], markets=markets)
    assert router.calls[1].params == {"symbols": '["BTCUSDT","ETHBTC","OLDUSDT"]'}
    btc, eth = batch.records
    assert btc.price == Decimal("64321.12000000")
    assert btc.quote_currency == "USDT"  # from exchangeInfo, not by splitting the symbol
    assert btc.volume_24h == Decimal("1343765432.10000000")  # quote volume
    assert btc.base_volume_24h == Decimal("21000.12345678")
    assert btc.change_24h == Decimal("1.261")
    assert (btc.bid, btc.ask) == (Decimal("64321.11000000"), Decimal("64321.12000000"))
    assert btc.observed_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert eth.quote_currency == "BTC"
    assert eth.bid is None
    assert eth.change_24h is None
    assert [q.reason for q in batch.quarantined] == ["non_positive"]  # the halted market


async def test_single_symbol_ticker_is_an_object_and_unknown_quote_stays_none():
    clock = make_clock()
    row = fixture_response("binance/ticker_24hr.json").json()[0]
    router = Router(clock).add("/api/v3/ticker/24hr", lambda r: httpx.Response(200, json=row))
    batch = await adapter(router, clock).tickers_24h(["BTCUSDT"])
    assert router.calls[0].params == {"symbol": "BTCUSDT"}
    assert batch.records[0].quote_currency is None


def test_ticker_weights_follow_the_docs():
    assert [ticker_weight(n) for n in (1, 20, 21, 100, 101, None)] == [2, 2, 40, 40, 80, 80]


async def test_request_weight_is_spent_from_the_budget():
    clock = make_clock()
    router = Router(clock).add("/api/v3/ticker/24hr", "binance/ticker_24hr.json")
    bn = adapter(router, clock, BinanceConfig(weight_per_minute=600))  # burst 60
    tokens = bn.client.limiter.tokens
    await bn.tickers_24h(None)  # all symbols: weight 80, more than the burst
    await bn.tickers_24h(["BTCUSDT", "ETHBTC"])
    assert tokens == 60
    # the second call had to wait for the bucket to refill (600/min = 10/s)
    assert router.calls[1].at - router.calls[0].at >= 0.2 - 1e-9


async def test_used_weight_header_near_the_limit_pauses_until_the_next_minute():
    clock = make_clock()  # 11:30:00 exactly

    def heavy(request):
        return fixture_response(
            "binance/klines_btcusdt_1h.json", headers={"x-mbx-used-weight-1m": "5900"}
        )

    router = Router(clock).add("/api/v3/klines", heavy)
    bn = adapter(router, clock)
    clock.advance(15)  # 11:30:15
    await bn.klines("BTCUSDT", "1h")
    assert bn.used_weight == 5900
    # 5900 ≥ 90 % of 6000: nothing is sent until 11:31:00; 45 s is over the 30 s queue cap,
    # so the next call is refused locally, saying when to come back.
    with pytest.raises(SourceRateLimited) as info:
        await bn.klines("BTCUSDT", "1h")
    assert info.value.retry_after == pytest.approx(45)
    assert router.count() == 1
    clock.advance(45)
    await bn.klines("BTCUSDT", "1h")
    assert router.count() == 2


async def test_invalid_symbol_envelope_is_a_request_error_not_retried():
    clock = make_clock()
    router = Router(clock).add("/api/v3/klines", "binance/error_invalid_symbol.json")
    with pytest.raises(SourceRequestError, match="-1121"):
        await adapter(router, clock).klines("NOPE", "1h")
    assert router.count() == 1


@pytest.mark.parametrize("status", [429, 418])
async def test_429_and_418_carry_retry_after(status):
    clock = make_clock()
    router = Router(clock).add(
        "/api/v3/klines",
        lambda r: httpx.Response(
            status, headers={"retry-after": "120"}, json={"code": -1003, "msg": "Too many requests"}
        ),
    )
    bn = adapter(router, clock)
    with pytest.raises(SourceRateLimited) as info:
        await bn.klines("BTCUSDT", "1h")
    assert info.value.retry_after == 120
    assert info.value.status == status
    with pytest.raises(SourceRateLimited):
        await bn.klines("BTCUSDT", "1h")
    assert router.count() == 1  # the ban is respected locally


async def test_exchange_info_markets():
    clock = make_clock()
    router = Router(clock).add("/api/v3/exchangeInfo", "binance/exchange_info.json")
    batch = await adapter(router, clock).exchange_info()
    pairs = {(m.symbol, m.base, m.quote) for m in batch.records}
    assert ("BTCUSDT", "BTC", "USDT") in pairs
    assert ("BTCEUR", "BTC", "EUR") in pairs
    assert [q.reason for q in batch.quarantined] == ["missing_field"]
