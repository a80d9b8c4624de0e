"""Coinbase Advanced Trade public REST adapter over the project's fixtures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from sources.coinbase import CANDLES_MAX, Coinbase, CoinbaseConfig
from sources.errors import SourceNotFound
from tests.sources.support import Router, make_clock, wiring

H8 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
H12 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def adapter(router, clock, config=None):
    return Coinbase(config or CoinbaseConfig(), wiring(router.transport(), clock))


async def test_candles_newest_first_become_oldest_first_keyed_by_open_time():
    clock = make_clock()  # 11:30
    router = Router(clock).add(
        "/api/v3/brokerage/market/products/BTC-USD/candles", "coinbase/candles_btc_usd_1h.json"
    )
    batch = await adapter(router, clock).candles("BTC-USD", "1h", H8, H12)
    params = router.calls[0].params
    assert params["granularity"] == "ONE_HOUR"
    assert params["start"] == str(int(H8.timestamp()))
    assert params["end"] == str(int(H12.timestamp()) - 1)
    assert [c.open_time.hour for c in batch.records] == [9, 10, 11]
    first = batch.records[0]
    assert first.quote_currency == "USD"
    assert first.open == Decimal("63410.0")
    assert first.volume == Decimal("355.82896243")
    assert [c.is_complete for c in batch.records] == [True, True, False]
    assert [q.reason for q in batch.quarantined] == ["ohlc_inconsistent"]


async def test_long_ranges_are_paged_by_350_candles():
    clock = make_clock()
    seen = []

    def page(request):
        start = int(request.url.params["start"])
        end = int(request.url.params["end"])
        seen.append((start, end))
        rows = [
            {"start": str(t), "low": "1", "high": "3", "open": "2", "close": "2", "volume": "1"}
            for t in range(start - start % 60, end + 1, 60)
            if t >= start
        ]
        return httpx.Response(200, json={"candles": rows[::-1]})

    router = Router(clock).add("/api/v3/brokerage/market/products/ETH-USDC/candles", page)
    start = datetime(2025, 12, 31, 0, 0, tzinfo=UTC)
    end = start + timedelta(minutes=800)
    batch = await adapter(router, clock).candles("ETH-USDC", "1m", start, end)
    assert len(seen) == 3  # 350 + 350 + 100
    assert all((e - s) // 60 + 1 <= CANDLES_MAX for s, e in seen)
    assert len(batch.records) == 800
    times = [c.open_time for c in batch.records]
    assert times == sorted(times)
    assert len(set(times)) == 800
    assert batch.records[0].quote_currency == "USDC"


async def test_products_are_markets_with_explicit_quotes():
    clock = make_clock()
    router = Router(clock).add("/api/v3/brokerage/market/products", "coinbase/products.json")
    batch = await adapter(router, clock).products()
    pairs = {(m.symbol, m.base, m.quote, m.status) for m in batch.records}
    assert ("BTC-USD", "BTC", "USD", "online") in pairs
    assert ("BTC-USDT", "BTC", "USDT", "online") in pairs
    assert ("OLD-USD", "OLD", "USD", "delisted") in pairs


async def test_unknown_product_is_not_found():
    clock = make_clock()
    router = Router(clock).add(
        "/api/v3/brokerage/market/products/NOPE-USD/candles", "coinbase/error_not_found.json"
    )
    with pytest.raises(SourceNotFound, match="ProductID not found"):
        await adapter(router, clock).candles("NOPE-USD", "1h", H8, H12)
    assert router.count() == 1


async def test_arguments_are_checked_before_any_call():
    clock = make_clock()
    router = Router(clock)
    cb = adapter(router, clock)
    with pytest.raises(ValueError):
        await cb.candles("BTC-USD", "4h", H8, H12)  # no FOUR_HOUR granularity
    with pytest.raises(ValueError):
        await cb.candles("../../accounts", "1h", H8, H12)
    assert router.count() == 0


async def test_requests_are_paced_at_the_public_limit():
    clock = make_clock()
    router = Router(clock).add(
        "/api/v3/brokerage/market/products/BTC-USD/candles", "coinbase/candles_btc_usd_1h.json"
    )
    cb = adapter(router, clock, CoinbaseConfig(requests_per_second=2))
    for _ in range(4):
        await cb.candles("BTC-USD", "1h", H8, H12)
    times = [c.at for c in router.calls]
    assert times[-1] - times[0] >= 1.5 - 1e-9  # 4 calls at 2/s with a burst of 1
