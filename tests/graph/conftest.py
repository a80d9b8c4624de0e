"""Fixtures for the graph tests."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from tests.conftest import _WithState, make_settings


@dataclass
class Counter:
    count: int = 0


@dataclass
class Served:
    client: httpx.AsyncClient
    engine: AsyncEngine

    @contextmanager
    def statements(self) -> Iterator[Counter]:
        """Count every SQL statement the app's engine executes inside the block.

        A listener on the engine itself rather than ``storage.instrument``'s
        context variable: the server's request middleware opens its own
        ``counting_statements()`` per request, which shadows an outer one.
        """
        counter = Counter()

        def bump(*_args: Any, **_kw: Any) -> None:
            counter.count += 1

        event.listen(self.engine.sync_engine, "before_cursor_execute", bump)
        try:
            yield counter
        finally:
            event.remove(self.engine.sync_engine, "before_cursor_execute", bump)


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[Served]:
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Served(client=client, engine=state["engine"])


@pytest.fixture
async def uncapped(db) -> AsyncIterator[Served]:
    """The full app with query-cost enforcement off, to reach the graph's own limits
    and run the large dashboard documents; exposes the app's engine for counting."""
    async with serve(create_app(make_settings(db.url, cost_enforce=False))) as served:
        yield served


@pytest.fixture
async def uncapped_api(uncapped: Served) -> httpx.AsyncClient:
    return uncapped.client
