"""Token Metrics ingest: signals and grades stored beside ours, with provenance (both backends).

The provider is played by ``httpx.MockTransport`` over the project's fixtures
(UPPERCASE-era signals with one out-of-range row, trader grades with one
grade of 130, investor grades refused by the plan).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from sqlalchemy import select

from app.ingest_component import live_options
from app.main import create_app
from ingest.publish import Publisher
from ingest.tokenmetrics_feed import TokenMetricsFeed, TokenMetricsOptions
from pubsub import channels
from pubsub.memory import MemoryBroker
from sources.base import Wiring
from sources.http import ManualClock
from storage.models import AssetAlias, SignalValue
from storage.repositories import ingest as repo
from tests.conftest import gql, make_settings, running_app
from tests.factories import Factory
from tests.sources.support import fixture_response

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
FILES = {
    "/v2/trading-signals": "tokenmetrics/trading_signals_upper.json",
    "/v2/trader-grades": "tokenmetrics/trader_grades.json",
    "/v2/investor-grades": "tokenmetrics/unauthorized_plan.json",
}


class Provider:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        name = FILES.get(request.url.path)
        if name is None:
            return fixture_response("tokenmetrics/data_not_found.json")
        return fixture_response(name)

    def params(self, path: str) -> list[dict[str, str]]:
        return [dict(r.url.params) for r in self.requests if r.url.path == path]


def make_feed(db, provider: Provider, broker=None) -> TokenMetricsFeed:
    options = TokenMetricsOptions(api_key="tm-test", token_ids={"ethereum": 3306})
    return TokenMetricsFeed(
        db.sessions,
        Publisher(broker),
        options,
        ["bitcoin", "ethereum"],
        # A manual clock paces the 20 calls/min budget without waiting.
        wiring=Wiring(transport=httpx.MockTransport(provider), clock=ManualClock(NOW)),
        clock=lambda: NOW,
    )


async def stored(db) -> list[tuple[str, str, Decimal, str, datetime]]:
    async with db.sessions() as s:
        stmt = select(
            SignalValue.source,
            SignalValue.kind,
            SignalValue.value,
            SignalValue.direction,
            SignalValue.computed_at,
        ).order_by(SignalValue.kind, SignalValue.computed_at)
        return [tuple(r) for r in (await s.execute(stmt)).all()]


async def test_signals_and_grades_are_stored_with_provenance_and_cursors(db):
    f = Factory(db.sessions)
    btc = await f.asset("bitcoin", symbol="BTC")
    await f.asset("ethereum", symbol="ETH")
    provider = Provider()
    broker = MemoryBroker()
    feed = make_feed(db, provider, broker)
    try:
        assert await feed.cycle() is True
    finally:
        await feed.aclose()

    dec30 = datetime(2025, 12, 30, tzinfo=UTC)
    dec31 = datetime(2025, 12, 31, tzinfo=UTC)
    assert await stored(db) == [
        ("tokenmetrics", "tm_trader_grade", Decimal("61.75"), "neutral", dec31),
        ("tokenmetrics", "tm_trading_signal", Decimal(1), "bullish", dec30),
        ("tokenmetrics", "tm_trading_signal", Decimal(0), "neutral", dec31),
    ]  # the out-of-range rows (signal 2, grade 130) were quarantined, never written
    async with db.sessions() as s:
        aliases = dict((await s.execute(select(AssetAlias.external_id, AssetAlias.asset_id))).all())
        grade = (
            await s.execute(select(SignalValue).where(SignalValue.kind == "tm_trader_grade"))
        ).scalar_one()
        cursors = {
            stream: await repo.get_cursor(s, "tokenmetrics", stream)
            for stream in ("signals:1d", "trader_grades", "investor_grades")
        }
    assert aliases["3375"] == btc and "3306" in aliases  # override file + setting
    assert grade.details["components"] == {"ta_grade": "64.25", "quant_grade": "55.5"}
    assert grade.details["provider"] == "Token Metrics" and grade.details["token_id"] == 3375
    # Asked by the mapped ids only, from history_days back, with the key in its header.
    (params,) = provider.params("/v2/trading-signals")
    assert params["token_id"] == "3306,3375"
    assert (params["startDate"], params["endDate"]) == ("2025-12-25", "2026-01-01")
    assert all(r.headers["x-api-key"] == "tm-test" for r in provider.requests)
    assert cursors == {
        "signals:1d": "2026-01-01",
        "trader_grades": "2026-01-01",
        "investor_grades": None,
    }
    health = feed.health()["tokenmetrics"]
    assert health["skipped_endpoints"] == ["investor_grades"]  # not in the plan
    assert health["quarantined"] == 2 and health["written"] == 3
    published = await broker.replay(channels.signals("bitcoin"), 0)
    assert sorted(e.data["kind"] for e in published) == [
        "tm_trader_grade",
        "tm_trading_signal",
        "tm_trading_signal",
    ]

    # The next cycle resumes at the cursor, skips the refused endpoint, duplicates nothing.
    provider.requests.clear()
    feed = make_feed(db, provider)
    feed.skipped = {"investor_grades"}
    try:
        await feed.cycle()
    finally:
        await feed.aclose()
    (params,) = provider.params("/v2/trading-signals")
    assert params["startDate"] == "2026-01-01"
    assert not provider.params("/v2/investor-grades")
    assert len(await stored(db)) == 3


async def test_provider_signals_sit_beside_ours_in_the_graph(db):
    f = Factory(db.sessions)
    btc = await f.asset("bitcoin", symbol="BTC")
    ours_at = datetime(2025, 12, 31, 23, tzinfo=UTC)
    await f.signal(btc, "trader_grade", "55.5", computed_at=ours_at, details={"trend": "50"})
    feed = make_feed(db, Provider())
    try:
        await feed.cycle()
    finally:
        await feed.aclose()
    query = """{ asset(id: "bitcoin", asOf: "2026-01-01T00:00:00Z") {
      signals { kind source value direction details }
      grade { source value } } }"""
    async with running_app(create_app(make_settings(db.url))) as client:
        body = await gql(client, query)
    assert "errors" not in body, body
    asset = body["data"]["asset"]
    by_kind = {s["kind"]: s for s in asset["signals"]}
    assert by_kind["trader_grade"]["source"] == "cryptoql"
    assert by_kind["tm_trader_grade"]["source"] == "tokenmetrics"
    assert by_kind["tm_trading_signal"]["source"] == "tokenmetrics"
    assert by_kind["tm_trading_signal"]["direction"] == "NEUTRAL"  # the 31 Dec value
    assert by_kind["tm_trader_grade"]["details"]["token_id"] == 3375
    # Our grade stays ours: provider grades never replace it.
    assert asset["grade"] == {"source": "cryptoql", "value": "55.5"}


async def test_without_mapped_assets_nothing_is_asked(db):
    provider = Provider()
    feed = make_feed(db, provider)  # no assets stored yet: identity has not run
    try:
        assert await feed.cycle() is False
    finally:
        await feed.aclose()
    assert provider.requests == []


def test_settings_turn_token_metrics_on_only_with_a_key():
    assert live_options(make_settings("sqlite://")).tokenmetrics is None
    settings = make_settings(
        "sqlite://",
        tokenmetrics_api_key="tm-secret",
        tokenmetrics_token_ids=json.loads('{"ethereum": 3306}'),
        tokenmetrics_hourly_signals=True,
    )
    options = live_options(settings).tokenmetrics
    assert options is not None
    assert (options.api_key, options.hourly, dict(options.token_ids)) == (
        "tm-secret",
        True,
        {"ethereum": 3306},
    )


def test_the_override_file_keeps_its_reviewed_ids(db, caplog):
    options = TokenMetricsOptions(api_key="k", token_ids={"ethereum": 3306, "solana": 3375})
    feed = TokenMetricsFeed(
        db.sessions, Publisher(None), options, ["bitcoin", "ethereum", "solana"]
    )
    assert feed.configured() == {3375: "bitcoin", 3306: "ethereum"}
    assert "3375 is bitcoin in the identity override file" in caplog.text
