"""Long-lived resources, created once per process and shared by requests.

The lifespan yields an :class:`AppState` (Starlette copies it into
``request.state``). Each layer that owns a process-wide resource (broker,
budgets, ingest runner …) contributes a *component*: an async context manager
factory ``component(settings, state) -> AsyncContextManager[dict[str, Any]]``
whose yielded mapping is merged into ``state["services"]``. Components are
listed in :data:`app.components.COMPONENTS`, entered in order and closed in
reverse order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.settings import Settings
from storage import migrate
from storage.engine import SessionFactory, make_engine, make_session_factory
from storage.instrument import install_statement_counter

log = logging.getLogger("cryptoql.lifespan")


class AppState(TypedDict):
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    services: dict[str, Any]


Component = Callable[[Settings, AppState], AbstractAsyncContextManager[dict[str, Any]]]
Lifespan = Callable[[Starlette], AbstractAsyncContextManager[AppState]]


def make_lifespan(settings: Settings, components: list[Component]) -> Lifespan:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[AppState]:
        url = settings.effective_database_url
        if settings.auto_migrate:
            await asyncio.to_thread(migrate.upgrade, url)
        engine = make_engine(url)
        install_statement_counter(engine)
        state = AppState(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            services={},
        )
        async with AsyncExitStack() as stack:
            stack.push_async_callback(engine.dispose)
            for component in components:
                state["services"].update(
                    await stack.enter_async_context(component(settings, state))
                )
            log.info(
                "started",
                extra={
                    "database": engine.url.render_as_string(hide_password=True),
                    "services": sorted(state["services"]),
                },
            )
            yield state
        log.info("stopped")

    return lifespan
