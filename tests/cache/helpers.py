"""The full app with persisted queries and the response cache on, and request helpers."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from app.main import create_app
from app.response_cache import ResponseCache
from app.settings import Settings
from ingest.publish import Publisher
from storage.repositories import ingest as ingest_repo
from tests.conftest import REDIS_TEST_URL, _WithState
from tests.factories import Factory

HMAC_SECRET = "cache-test-hmac-secret-0123456789abcdefghijkl"
#: restore rates so small that refill during a test stays below a thousandth of a point
SLOW_TIERS = {
    "anonymous": {"capacity": 10_000, "restore_rate": 0.0001},
    "free": {"capacity": 10_000, "restore_rate": 0.0001},
    "pro": {"capacity": 10_000, "restore_rate": 0.0001},
}
ALL_DATA_SCOPES = ["prices", "signals", "onchain", "streaming"]

#: reads assets, quotes and signals at the request time (a live answer)
PRICES = """query Prices($n: Int!) {
  assets(first: $n, orderBy: {field: RANK}) {
    nodes { canonicalId symbol price { value observedAt } signals { kind value } }
  }
}"""

#: pinned by asOf: depends on stored data only (assets and quotes)
PINNED = """query At($at: DateTime!) {
  asset(id: "coin-000", asOf: $at) { symbol price { value } }
}"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


def settings(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "env": "test",
        "auto_migrate": False,
        "log_json": False,
        "data_dir": data_dir,
        "key_hmac_secret": HMAC_SECRET,
        "response_cache_enabled": True,
        "cost_tiers": SLOW_TIERS,
    }
    values.update(overrides)
    return Settings(**values)


def redis_overrides() -> dict[str, Any]:
    """Every Redis name of one test under a fresh prefix (other engineers share the server)."""
    tag = uuid.uuid4().hex[:10]
    return {
        "redis_url": REDIS_TEST_URL,
        "key_invalidation_channel": f"test:{tag}:keys:invalidate",
        "cost_redis_prefix": f"test:{tag}:budget:",
        "pubsub_namespace": f"test:{tag}:",
        "response_cache_redis_prefix": f"test:{tag}:rc:",
        "persisted_redis_prefix": f"test:{tag}:apq:",
    }


@dataclass
class CacheApp:
    app: Any
    state: dict[str, Any]
    client: httpx.AsyncClient

    @property
    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = self.state["services"]
        return services

    @property
    def cache(self) -> ResponseCache:
        cache: ResponseCache = self.services["response_cache"]
        return cache

    async def bump(self, *domains: str) -> None:
        """Announce changed domains exactly as ingest does after a commit."""
        await Publisher(self.services["broker"]).bump(domains)

    async def issue(self, *, tier: str = "free", scopes: list[str] | None = None) -> str:
        issued = await self.services["key_admin"].create(
            name="cache test", tier=tier, scopes=scopes or ALL_DATA_SCOPES
        )
        key: str = issued.key
        return key


@asynccontextmanager
async def cache_app(db_url: str, data_dir: Path, **overrides: Any) -> AsyncIterator[CacheApp]:
    app = create_app(settings(db_url, data_dir, **overrides))
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state), client=("198.51.100.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield CacheApp(app=app, state=state, client=client)


async def seed(sessions: Any, n: int = 3) -> list[int]:
    """``n`` assets (coin-000 …) with two quotes and two signals each."""
    f = Factory(sessions)
    ids = []
    for i in range(n):
        asset_id = await f.asset(f"coin-{i:03d}", symbol=f"C{i:03d}", rank=i + 1)
        await f.quote(asset_id, "src0", 100 + i, market_cap=1e9 - i)
        await f.quote(asset_id, "src1", 101 + i)
        await f.signal(asset_id, "rsi_14", 55)
        await f.signal(asset_id, "macd", 1)
        ids.append(asset_id)
    return ids


async def write_quote(sessions: Any, asset_id: int, price: str, source: str = "src0") -> None:
    """Store a quote through the ingest repository (the announcement is a separate step)."""
    row = ingest_repo.QuoteRow(source, asset_id, "USD", Decimal(price), datetime.now(UTC))
    async with sessions() as session:
        await ingest_repo.upsert_quotes(session, [row])
        await session.commit()


def an_hour_ago() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat()


async def post(
    client: httpx.AsyncClient,
    query: str | None,
    variables: dict[str, Any] | None = None,
    *,
    extensions: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"variables": variables or {}}
    if query is not None:
        body["query"] = query
    if extensions is not None:
        body["extensions"] = extensions
    return await client.post("/graphql", json=body, headers=headers)


async def get(
    client: httpx.AsyncClient,
    query: str | None,
    variables: dict[str, Any] | None = None,
    *,
    extensions: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    params: dict[str, str] = {}
    if query is not None:
        params["query"] = query
    if variables:
        params["variables"] = json.dumps(variables)
    if extensions is not None:
        params["extensions"] = json.dumps(extensions)
    return await client.get("/graphql", params=params, headers=headers)


def data_part(resp: httpx.Response) -> bytes:
    """The response bytes before the per-request ``extensions`` member."""
    body = resp.content
    return body[: body.rindex(b',"extensions":')]


def cost(resp: httpx.Response) -> dict[str, Any]:
    figures: dict[str, Any] = resp.json()["extensions"]["cost"]
    return figures


def is_hit(resp: httpx.Response) -> bool:
    return resp.headers.get("x-cache") == "hit"


def dump(resp: httpx.Response) -> str:
    return f"{resp.status_code} {dict(resp.headers)} {resp.text[:500]}"
