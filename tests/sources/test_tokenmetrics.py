"""Token Metrics adapter over the project's fixtures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest

from sources.errors import SourceAuthError, SourcePlanRestricted
from sources.tokenmetrics import TokenMetrics, TokenMetricsConfig
from tests.sources.support import Router, fixture_response, make_clock, wiring

D0, D1 = date(2025, 12, 30), date(2026, 1, 1)


def adapter(router, clock, **config):
    return TokenMetrics(
        TokenMetricsConfig(api_key="tm-test", **config), wiring(router.transport(), clock)
    )


def test_the_key_is_required():
    with pytest.raises(ValueError, match="api_key"):
        TokenMetricsConfig(api_key="")


async def test_upper_and_lower_case_eras_give_the_same_records():
    results = []
    for fixture in ("trading_signals_upper.json", "trading_signals_lower.json"):
        clock = make_clock()
        router = Router(clock).add("/v2/trading-signals", f"tokenmetrics/{fixture}")
        batch = await adapter(router, clock).trading_signals([3375], D0, D1)
        results.append(batch)
    upper, lower = results
    assert upper.records == lower.records
    first = upper.records[0]
    assert first.source == "tokenmetrics"
    assert first.source_id == "3375"
    assert first.symbol == "BTC"
    assert first.observed_at == datetime(2025, 12, 30, tzinfo=UTC)
    assert first.signal == 1
    assert first.direction == "bullish"
    assert first.horizon == "1d"
    assert first.signal_returns == Decimal("45100.25")
    assert first.trader_grade == Decimal("71.5")
    assert upper.records[1].direction == "neutral"
    assert [q.reason for q in upper.quarantined] == ["bad_value"]  # TRADING_SIGNAL 2


async def test_auth_header_name_is_configurable():
    for header in ("x-api-key", "api_key"):
        clock = make_clock()
        router = Router(clock).add("/v2/tokens", "tokenmetrics/tokens.json")
        await adapter(router, clock, auth_header=header).tokens(symbols=["ETH"])
        assert router.calls[0].headers[header] == "tm-test"


async def test_a_symbol_returns_several_tokens():
    clock = make_clock()
    router = Router(clock).add("/v2/tokens", "tokenmetrics/tokens.json")
    batch = await adapter(router, clock).tokens(symbols=["ETH"])
    assert router.calls[0].params["symbol"] == "ETH"
    assert [t.token_id for t in batch.records] == ["3306", "90001", "90002"]
    assert {t.symbol for t in batch.records} == {"ETH"}


async def test_data_not_found_is_an_empty_batch():
    clock = make_clock()
    router = Router(clock).add("/v2/trading-signals", "tokenmetrics/data_not_found.json")
    batch = await adapter(router, clock).trading_signals([3375], D0, D1)
    assert batch.records == ()
    assert batch.quarantined == ()
    assert router.count() == 1


async def test_plan_restriction_and_bad_key_are_auth_errors():
    clock = make_clock()
    router = Router(clock).add("/v2/trader-grades", "tokenmetrics/unauthorized_plan.json")
    with pytest.raises(SourcePlanRestricted):
        await adapter(router, clock).trader_grades([3375], D0, D1)
    router = Router(clock).add(
        "/v2/trader-grades",
        lambda r: httpx.Response(401, json={"success": False, "message": "Invalid API key"}),
    )
    with pytest.raises(SourceAuthError) as info:
        await adapter(router, clock).trader_grades([3375], D0, D1)
    assert not isinstance(info.value, SourcePlanRestricted)
    assert router.count() == 1


async def test_trader_grades_with_components_and_out_of_range_quarantined():
    clock = make_clock()
    router = Router(clock).add("/v2/trader-grades", "tokenmetrics/trader_grades.json")
    batch = await adapter(router, clock).trader_grades([3375], D0, D1)
    (grade,) = batch.records
    assert grade.kind == "trader"
    assert grade.grade == Decimal("61.75")
    assert dict(grade.components) == {"ta_grade": Decimal("64.25"), "quant_grade": Decimal("55.5")}
    assert grade.change_24h_pct == Decimal("-2.5")
    assert grade.observed_at == datetime(2025, 12, 31, tzinfo=UTC)
    assert [q.reason for q in batch.quarantined] == ["bad_value"]


async def test_investor_grades_lowercase():
    clock = make_clock()
    router = Router(clock).add("/v2/investor-grades", "tokenmetrics/investor_grades.json")
    (grade,) = (await adapter(router, clock).investor_grades([3375], D0, D1)).records
    assert grade.kind == "investor"
    assert grade.grade == Decimal("78.25")
    assert dict(grade.components) == {
        "fundamental_grade": Decimal("80.5"),
        "technology_grade": Decimal("75.0"),
    }


async def test_long_ranges_are_split_into_29_day_chunks_and_pages_followed():
    clock = make_clock()
    row = fixture_response("tokenmetrics/trading_signals_lower.json").json()["data"][0]

    def signals(request):
        params = request.url.params
        page = int(params["page"])
        limit = int(params["limit"])
        # two full pages then a short one for each chunk
        n = limit if page < 2 else 1
        day = date.fromisoformat(params["startDate"])
        rows = [
            {**row, "date": f"{day.isoformat()}T{(page * limit + i) % 24:02d}:00:00Z"}
            for i in range(n)
        ]
        return httpx.Response(200, json={"success": True, "length": n, "data": rows})

    router = Router(clock).add("/v2/hourly-trading-signals", signals)
    tm = adapter(router, clock, page_size=5)
    batch = await tm.trading_signals(
        [3375, 3306], date(2025, 11, 1), date(2025, 12, 30), hourly=True
    )
    chunks = sorted({(c.params["startDate"], c.params["endDate"]) for c in router.calls})
    assert chunks == [
        ("2025-11-01", "2025-11-29"),
        ("2025-11-30", "2025-12-28"),
        ("2025-12-29", "2025-12-30"),
    ]
    assert all(c.params["token_id"] == "3375,3306" for c in router.calls)
    assert router.count() == 9  # 3 pages per chunk
    assert {r.horizon for r in batch.records} == {"1h"}
    # rows repeated across pages (same token and time) are de-duplicated
    assert len(batch.records) == len({(r.source_id, r.observed_at) for r in batch.records})
