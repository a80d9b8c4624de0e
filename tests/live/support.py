"""Helpers for the live-data tests: the app with its lifespan state, polling, metrics."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.main import create_app
from app.settings import Settings
from tests.conftest import _WithState


@asynccontextmanager
async def app_with_state(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The full app, lifespan entered; yields a client and the lifespan state."""
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, state


async def until(predicate: Callable[[], Any], within: float = 20.0, every: float = 0.1) -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy (bounded)."""
    try:
        async with asyncio.timeout(within):
            while True:
                value = predicate()
                if inspect.isawaitable(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"condition not reached within {within} s") from None


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``{(sample name, labels): value}`` of a Prometheus text exposition."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def metric(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float | None:
    return found.get((name, frozenset(labels.items())))
