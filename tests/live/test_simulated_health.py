"""Offline: ``/readyz`` and ``/metrics`` say plainly that the market is simulated (both DBs)."""

from __future__ import annotations

from tests.conftest import make_settings
from tests.live.support import app_with_state, metric, samples, until


async def test_simulated_mode_is_visible_in_health_and_metrics(db):
    settings = make_settings(
        db.url,
        ingest_enabled=True,
        ingest_mode="simulated",
        ingest_assets=["bitcoin"],
        simulated_tick_seconds=0.2,
        simulated_history_days=1,
        simulated_minute_hours=1,
    )
    async with app_with_state(settings) as (client, state):
        runner = state["services"]["ingest"]
        await until(lambda: runner.source_health().get("simulated", {}).get("ticks", 0) >= 2)
        check = (await client.get("/readyz")).json()["checks"]["ingest"]
        assert check["ok"] is True and check["simulated"] is True and check["mode"] == "simulated"
        assert check["sources"]["simulated"]["status"] == "ok"
        found = samples((await client.get("/metrics")).text)
        assert metric(found, "cryptoql_ingest_mode", mode="simulated") == 1
        assert metric(found, "cryptoql_ingest_mode", mode="real") == 0
        quotes = metric(found, "cryptoql_ingest_rows_total", kind="quotes")
        assert quotes is not None and quotes >= 3 * 2  # three venues, at least two ticks
        assert metric(found, "cryptoql_source_status", source="simulated", status="ok") == 1
