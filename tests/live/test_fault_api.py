"""The issue's fault scenario at the API level: a source fails while the server runs.

A fake Binance on a real loopback socket first serves good tickers (and one
halted market, quarantined), then only 503s. The API must keep answering with
the last good price, marked stale once it is older than the threshold; no row
is written from the failing source; the breaker stops the calls (no retry
storm); and ``/readyz`` and ``/metrics`` show the source's health. Both DB
backends.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from storage.models import Asset, Quote
from tests.conftest import gql, make_settings
from tests.live.support import app_with_state, metric, samples, until
from tests.live.upstream import Upstream, serve_upstream

PRICE = """{ asset(id: "bitcoin") { price(quote: "USDT") {
  value stale sourceCount sources { source price stale used } } } }"""


def live_settings(db, up: Upstream, **overrides):
    """Binance only (the fake), fast cycles, a 2 s staleness threshold."""
    settings = {
        "ingest_enabled": True,
        "ingest_mode": "auto",
        "ingest_probe_timeout_seconds": 2.0,
        "ingest_coingecko_url": "",
        "ingest_coinbase_url": "",
        "eth_rpc_url": "",
        "ingest_binance_url": up.base("binance"),
        "ingest_assets": ["bitcoin", "ethereum"],
        "ingest_schedule_seconds": {"binance": 0.3, "identity": 3600.0},
        "ingest_streams_enabled": False,
        "stale_after_seconds": 2,
    }
    return make_settings(db.url, **{**settings, **overrides})


async def price(client):
    body = await gql(client, PRICE)
    assert "errors" not in body, body
    asset = body["data"]["asset"]
    return asset["price"] if asset else None


async def quotes_of(db, canonical_id: str) -> list[tuple[str, datetime]]:
    async with db.sessions() as s:
        stmt = select(Quote.source, Quote.observed_at).join(Asset)
        return list((await s.execute(stmt.where(Asset.canonical_id == canonical_id))).all())


async def test_failing_source_serves_last_good_values_stale_with_health_visible(db):
    up = Upstream(binance_bad={"ETHUSDT"})
    async with serve_upstream(up), app_with_state(live_settings(db, up)) as (client, state):
        runner = state["services"]["ingest"]

        async def fresh_price():
            p = await price(client)
            return p if p and p["value"] and not p["stale"] else None

        good = await until(fresh_price)
        assert good["value"] == "87000.1"
        assert [s["source"] for s in good["sources"]] == ["binance"]
        ready = (await client.get("/readyz")).json()
        assert ready["status"] == "ready"
        binance = ready["checks"]["ingest"]["sources"]["binance"]
        assert binance["status"] == "ok" and binance["breaker"] == "closed"
        assert binance["last_success_at"] is not None

        # The upstream fails: every call is a 503 from now on.
        fault_at = datetime.now(UTC)
        up.faults["binance"] = "5xx"
        await until(lambda: runner.source_health()["binance"]["status"] == "down")

        stale = await until(lambda: _stale(client))
        assert stale["value"] == good["value"]  # the last good value, still served
        assert stale["sources"][0]["stale"] is True

        # Nothing from the failing source was written; the halted market never was.
        stored = await quotes_of(db, "bitcoin")
        assert stored and max(ts for _, ts in stored) < fault_at
        assert await quotes_of(db, "ethereum") == []

        # The breaker is open: the source is left alone (no retry storm).
        calls = up.calls["binance"]
        await asyncio.sleep(1.0)  # about three scheduled cycles
        assert up.calls["binance"] == calls

        ready = await client.get("/readyz")
        assert ready.status_code == 200  # serving stale values is still serving
        check = ready.json()["checks"]["ingest"]
        assert check["ok"] is True and check["mode"] == "real" and check["simulated"] is False
        binance = check["sources"]["binance"]
        assert binance["status"] == "down" and binance["breaker"] == "open"
        assert binance["last_error"] and binance["last_error_at"] > binance["last_success_at"]
        assert binance["quarantined"] == up.served_bad["ETHUSDT"] > 0

        found = samples((await client.get("/metrics")).text)
        assert metric(found, "cryptoql_source_breaker_state", source="binance") == 2
        assert metric(found, "cryptoql_source_status", source="binance", status="down") == 1
        assert metric(found, "cryptoql_source_status", source="binance", status="ok") == 0
        unavailable = metric(
            found, "cryptoql_source_requests_total", source="binance", outcome="unavailable"
        )
        assert unavailable is not None and unavailable >= 5
        quarantined = metric(
            found,
            "cryptoql_source_quarantined_total",
            source="binance",
            kind="market_quote",
            reason="non_positive",
        )
        assert quarantined == up.served_bad["ETHUSDT"]
        assert metric(found, "cryptoql_ingest_rows_total", kind="quotes") == len(stored)
        assert metric(found, "cryptoql_ingest_mode", mode="real") == 1
        assert metric(found, "cryptoql_source_last_error_timestamp_seconds", source="binance")


async def _stale(client):
    p = await price(client)
    return p if p and p["stale"] else None


async def test_undecodable_bodies_write_nothing_and_are_counted(db):
    """HTML error pages and truncated JSON with status 200 are failures, never data."""
    up = Upstream()
    async with (
        serve_upstream(up),
        app_with_state(live_settings(db, up, ingest_assets=["bitcoin"])) as (client, state),
    ):
        runner = state["services"]["ingest"]
        await until(lambda: quotes_of(db, "bitcoin"))
        fault_at = datetime.now(UTC)
        up.faults["binance"] = "html"
        await until(lambda: runner.source_health()["binance"]["status"] in ("degraded", "down"))
        up.faults["binance"] = "truncated"
        await until(lambda: runner.source_health()["binance"]["breaker"] == "open")
        found = samples((await client.get("/metrics")).text)
        decode = metric(found, "cryptoql_source_requests_total", source="binance", outcome="decode")
        assert decode is not None and decode >= 2
        health = runner.source_health()["binance"]
        assert "UPSTREAM" in (health["last_error"] or "")
    stored = await quotes_of(db, "bitcoin")
    assert max(ts for _, ts in stored) < fault_at
    async with db.sessions() as s:
        total = (await s.execute(select(func.count()).select_from(Quote))).scalar_one()
    assert total == len(stored)
