"""Helpers for the API-key tests: the full app with its lifespan, and the key admin."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from app.auth.manage import Issued, KeyAdmin
from app.auth.service import KeyService
from app.main import create_app
from app.settings import Settings
from tests.conftest import REDIS_TEST_URL, _WithState

HMAC_SECRET = "keys-test-hmac-secret-0123456789abcdefghijklmn"
CLIENT_IP = "203.0.113.7"
QUERY = '{ asset(id: "bitcoin") { symbol } }'


def key_settings(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Like ``tests.conftest.make_settings``, with a server secret and ``env`` overridable."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "env": "test",
        "auto_migrate": False,
        "log_json": False,
        "data_dir": data_dir,
        "key_hmac_secret": HMAC_SECRET,
    }
    values.update(overrides)
    return Settings(**values)


def redis_overrides() -> dict[str, Any]:
    """Settings that put every Redis name of one test under a fresh prefix."""
    tag = uuid.uuid4().hex[:10]
    return {
        "redis_url": REDIS_TEST_URL,
        "key_invalidation_channel": f"test:{tag}:keys:invalidate",
        "cost_redis_prefix": f"test:{tag}:budget:",
        "pubsub_namespace": f"test:{tag}:",
    }


@dataclass
class KeyedApp:
    app: Any
    state: dict[str, Any]
    client: httpx.AsyncClient

    @property
    def admin(self) -> KeyAdmin:
        admin: KeyAdmin = self.state["services"]["key_admin"]
        return admin

    @property
    def service(self) -> KeyService:
        service: KeyService = self.state["services"]["keys"]
        return service

    async def issue(self, **kw: Any) -> Issued:
        kw.setdefault("name", "test key")
        kw.setdefault("tier", "free")
        kw.setdefault("scopes", ["prices", "signals", "onchain", "streaming"])
        return await self.admin.create(**kw)

    def client_from(self, ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=_WithState(self.app, self.state), client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://test")


@asynccontextmanager
async def keyed_app(db_url: str, data_dir: Path, **overrides: Any) -> AsyncIterator[KeyedApp]:
    app = create_app(key_settings(db_url, data_dir, **overrides))
    async with app.router.lifespan_context(app) as state:
        keyed = KeyedApp(app=app, state=state, client=None)  # type: ignore[arg-type]
        async with keyed.client_from(CLIENT_IP) as client:
            keyed.client = client
            yield keyed


async def post(client: httpx.AsyncClient, query: str = QUERY, **headers: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers=headers)


def error_of(resp: httpx.Response) -> tuple[int, str, str]:
    """(status, code, message) of a refused request."""
    body = resp.json()
    err = body["errors"][0]
    return resp.status_code, err["extensions"]["code"], err["message"]


@contextmanager
def engine_statements(keyed: KeyedApp) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs inside the block, from any task.

    ``storage.instrument.counting_statements`` cannot be used from the test
    around a request: the server's request middleware opens its own counter
    for each request, which shadows an outer one. This listener sees the
    engine itself, so "zero statements" really means the database was not hit.
    """
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    engine = keyed.state["engine"].sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
