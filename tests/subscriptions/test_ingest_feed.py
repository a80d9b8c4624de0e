"""Ticks flow from the real ingest (simulated market) through the broker to a subscriber."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.subscriptions.conftest import serve, ws_client

DOC = """subscription { prices(assetIds: ["bitcoin"]) {
  seq price { value sourceCount sources { source } } tick { source } } }"""


@pytest.mark.slow
async def test_simulated_market_ticks_reach_a_subscriber(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    path = tmp_path / "ingest.db"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    settings = {
        "data_dir": tmp_path,
        "ingest_enabled": True,
        "ingest_mode": "simulated",
        "simulated_tick_seconds": 0.3,
        "simulated_history_days": 1,
    }
    async with serve(f"sqlite+aiosqlite:///{path}", **settings) as live, ws_client(live.url) as c:
        await c.init()
        # The simulated registry is written by ingest at start-up: until then, NOT_FOUND.
        for attempt in range(100):
            await c.subscribe(str(attempt), DOC)
            first = await c.recv(wait=10)
            if first["type"] == "next":
                break
            assert first["payload"][0]["extensions"]["code"] == "NOT_FOUND"
            await asyncio.sleep(0.2)
        events = [first] + [await c.recv(wait=10) for _ in range(3)]
    prices = [e["payload"]["data"]["prices"] for e in events]
    seqs = [p["seq"] for p in prices]
    assert seqs == sorted(seqs)
    assert all(p["tick"]["source"].startswith("simulated") for p in prices)
    assert max(p["price"]["sourceCount"] for p in prices) >= 2
