"""Shared fixtures.

``db`` is parametrised over SQLite and PostgreSQL, so every test that asks for
it runs its body on both. Each test gets a freshly migrated database copied
from a template that was migrated once per session (a file copy for SQLite,
``CREATE DATABASE … TEMPLATE`` for PostgreSQL), so tests never see each
other's rows and need no rollback tricks.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from storage import migrate
from storage.engine import SessionFactory, make_engine, make_session_factory
from storage.instrument import install_statement_counter

PG_ADMIN_DSN = os.environ.get("CRYPTOQL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("CRYPTOQL_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{dbname}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def _pg_exec(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tmpl") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def _run_in_thread(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion from sync code, even under a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"cq_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _run_in_thread(_pg_exec(f'CREATE DATABASE "{name}"'))
    try:
        migrate.upgrade(_pg_url(name))
        yield name
    finally:
        _run_in_thread(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Db:
    backend: str
    url: str
    sessions: SessionFactory


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Db]:
    backend: str = request.param
    if backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite+aiosqlite:///{path}"
        dropper = None
    else:
        template = request.getfixturevalue("pg_template")
        name = f"cq_t_{uuid.uuid4().hex[:10]}"
        await _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        url = _pg_url(name)
        dropper = name
    engine = make_engine(url)
    install_statement_counter(engine)
    try:
        yield Db(backend=backend, url=url, sessions=make_session_factory(engine))
    finally:
        await engine.dispose()
        if dropper:
            await _pg_exec(f'DROP DATABASE IF EXISTS "{dropper}" WITH (FORCE)')


class _WithState:
    """Run an ASGI app with its lifespan state injected (httpx's ASGITransport has no lifespan)."""

    def __init__(self, app: Any, state: dict[str, Any]) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope = dict(scope)
        scope["state"] = dict(self.state)
        await self.app(scope, receive, send)


@asynccontextmanager
async def running_app(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to ``app`` in-process, with its lifespan entered."""
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state or {}))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def make_settings(db_url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=db_url, env="test", auto_migrate=False, log_json=False, **overrides
    )


@pytest.fixture
async def api(db: Db) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the full app on the test database (both backends)."""
    async with running_app(create_app(make_settings(db.url))) as client:
        yield client


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    """POST a GraphQL document and return the decoded JSON body."""
    resp = await client.post("/graphql", json={"query": query, "variables": variables or {}}, **kw)
    body: dict[str, Any] = resp.json()
    return body
