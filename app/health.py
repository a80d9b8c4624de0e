"""Liveness (``/healthz``) and readiness (``/readyz``).

``/healthz`` answers as long as the event loop does: it touches nothing, so an
orchestrator restarts the process only when the process itself is stuck.
``/readyz`` says whether this instance should receive traffic: the database
answers and is migrated to the head revision this code expects, and every
check other components registered passes. A component registers a check with
:func:`register_readiness` (typically in its lifespan component); a check
returns ``(ok, detail)`` and gets a short timeout, so one hung dependency makes
the instance unready instead of hanging the probe. Not ready is 503 with every
check's detail, so the cause is visible from the probe alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse

from storage import migrate

log = logging.getLogger("cryptoql.health")

ReadinessCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
CHECK_TIMEOUT_SECONDS = 2.0
_NO_STORE = {"Cache-Control": "no-store"}
_heads: dict[str, str | None] = {}


def register_readiness(services: dict[str, Any], name: str, check: ReadinessCheck) -> None:
    """Add a named check to ``services["readiness"]`` (the registry ``/readyz`` runs)."""
    services.setdefault("readiness", {})[name] = check


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


async def _head_revision(url: str) -> str | None:
    if url not in _heads:  # reads the migration scripts once per process
        _heads[url] = await asyncio.to_thread(migrate.head_revision, url)
    return _heads[url]


def database_check(engine: AsyncEngine, url: str) -> ReadinessCheck:
    async def check() -> tuple[bool, dict[str, Any]]:
        current = await migrate.current_revision(engine)
        head = await _head_revision(url)
        return current == head, {"revision": current, "head": head}

    return check


async def _run(name: str, check: ReadinessCheck) -> tuple[bool, dict[str, Any]]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            ok, detail = await check()
    except TimeoutError:
        log.warning("readiness check %s timed out", name)
        return False, {"error": f"timed out after {CHECK_TIMEOUT_SECONDS:g} s"}
    except Exception as exc:
        log.warning("readiness check %s failed", name, exc_info=True)
        return False, {"error": type(exc).__name__}
    return bool(ok), detail


async def readyz(request: Request) -> JSONResponse:
    state = request.state
    checks: dict[str, ReadinessCheck] = {
        "database": database_check(state.engine, state.settings.effective_database_url),
        **state.services.get("readiness", {}),
    }
    results = await asyncio.gather(*(_run(name, check) for name, check in checks.items()))
    report = {
        name: {"ok": ok, **detail} for name, (ok, detail) in zip(checks, results, strict=True)
    }
    ready = all(ok for ok, _ in results)
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": report},
        status_code=200 if ready else 503,
        headers=_NO_STORE,
    )
