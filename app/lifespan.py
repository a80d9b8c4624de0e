"""Long-lived resources, created once per process and shared by requests.

The lifespan yields an :class:`AppState` (Starlette copies it into
``request.state``). Later layers add their resources here (broker, budgets,
ingest runner) so start-up and shut-down stay in one place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.settings import Settings
from storage import migrate
from storage.engine import SessionFactory, make_engine, make_session_factory

log = logging.getLogger("cryptoql.lifespan")


class AppState(TypedDict):
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory


def make_lifespan(settings: Settings):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[AppState]:
        url = settings.effective_database_url
        if settings.auto_migrate:
            await asyncio.to_thread(migrate.upgrade, url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        log.info("started", extra={"database": engine.url.render_as_string(hide_password=True)})
        try:
            yield AppState(settings=settings, engine=engine, sessions=sessions)
        finally:
            await engine.dispose()
            log.info("stopped")

    return lifespan
