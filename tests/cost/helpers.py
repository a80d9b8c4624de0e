"""Shared helpers: the full app with cost settings and a resolver-call counter."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

import app.main as app_main
from app.main import create_app
from tests.conftest import make_settings, running_app
from tests.cost.toy import CALLS, CallCounter
from tests.factories import Factory

#: The dashboard of issue 2: assets with price (and sources), market, signals, grade, sparkline.
DASHBOARD = """
query Dashboard($n: Int!) {
  assets(first: $n) {
    edges { node {
      canonicalId symbol name
      price { value observedAt stale sources { source price observedAt } }
      market { marketCap observedAt }
      signals { kind value direction }
      grade { value direction }
      candles(interval: "1h", last: 24) { openTime close }
    } }
  }
}
"""

SLOW_TIERS = {
    # restore rates small enough that refill during a test is below a point
    "anonymous": {"capacity": 1_000, "restore_rate": 0.001},
    "free": {"capacity": 5_000, "restore_rate": 0.001},
}


@asynccontextmanager
async def cost_app(
    db_url: str, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The full app on ``db_url``; every resolver call is recorded in ``CALLS``."""
    original = app_main.build_schema

    def build_with_counter(**kw: Any) -> Any:
        kw["extensions"] = [*kw.get("extensions", ()), CallCounter]
        return original(**kw)

    monkeypatch.setattr(app_main, "build_schema", build_with_counter)
    overrides.setdefault("cost_tiers", SLOW_TIERS)
    CALLS.clear()
    async with running_app(create_app(make_settings(db_url, **overrides))) as client:
        yield client


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


async def seed_assets(sessions: Any, n: int, *, sources: int = 3) -> list[str]:
    """``n`` assets with quotes from ``sources`` sources and a couple of signals each."""
    f = Factory(sessions)
    ids = []
    for i in range(n):
        cid = f"coin-{i:03d}"
        asset_id = await f.asset(cid, symbol=f"C{i:03d}", rank=i + 1)
        for s in range(sources):
            await f.quote(asset_id, f"src{s}", 100 + i + s, market_cap=1e9 - i)
        await f.signal(asset_id, "rsi_14", 55)
        await f.signal(asset_id, "trader_grade", 70, details={"momentum": 60})
        ids.append(cid)
    return ids


def cost_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    cost: dict[str, Any] = body["extensions"]["cost"]
    return cost


def dump(response: httpx.Response) -> str:
    return json.dumps(response.json(), indent=1)[:2000]
