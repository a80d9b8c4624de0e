"""Test support for the source adapters: fixture loading, a routing mock
transport that records every upstream call, and a fault-injecting transport.

The fault injector sits *between* the adapter and the fixture router, the way
a Toxiproxy sits between a service and its dependency: it turns a fraction of
requests into 5xx, 429 + Retry-After, timeouts, connection resets, truncated or
malformed bodies, HTML error pages or empty 200s, and can corrupt individual
records inside an otherwise valid JSON body. Every decision comes from a
seeded RNG or an explicit schedule, so each test is deterministic.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from sources.base import Wiring
from sources.http import ManualClock
from sources.metrics import register_metrics

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"


def load(name: str) -> dict[str, Any]:
    """A fixture file: ``{"status", "headers"?, "body"}``; JSON floats stay exact ``Decimal``."""
    return json.loads((FIXTURES / name).read_text("utf-8"), parse_float=Decimal)


def dumps(obj: Any) -> str:
    """JSON text that writes ``Decimal`` as the number it is (the stdlib cannot)."""
    if isinstance(obj, Decimal):
        return str(obj) if obj.is_finite() else json.dumps(str(obj))
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    return json.dumps(obj)


def fixture_response(name: str, **overrides: Any) -> httpx.Response:
    fx = load(name)
    status = overrides.get("status", fx.get("status", 200))
    headers = {"content-type": "application/json", **fx.get("headers", {})}
    headers.update(overrides.get("headers", {}))
    body = overrides.get("body", fx["body"])
    return httpx.Response(status, headers=headers, content=dumps(body).encode())


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    headers: httpx.Headers
    at: float  # the manual clock's monotonic time when the request reached the upstream


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Router:
    """Routes by URL path (exact, or the longest matching prefix ending in ``*``)."""

    clock: ManualClock
    routes: dict[str, Handler | str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def add(self, path: str, target: Handler | str) -> Router:
        self.routes[path] = target
        return self

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(
            Call(
                request.method,
                request.url.path,
                dict(request.url.params),
                request.headers,
                self.clock.monotonic(),
            )
        )
        target = self.routes.get(request.url.path)
        if target is None:
            prefixes = [
                p for p in self.routes if p.endswith("*") and request.url.path.startswith(p[:-1])
            ]
            if prefixes:
                target = self.routes[max(prefixes, key=len)]
        if target is None:
            return httpx.Response(404, json={"error": "no route"})
        if isinstance(target, str):
            return fixture_response(target)
        return target(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def count(self, path: str | None = None) -> int:
        return sum(1 for c in self.calls if path is None or c.path == path)


FAULTS = (
    "5xx",
    "429",
    "timeout",
    "reset",
    "truncated",
    "malformed",
    "html",
    "empty",
)


class FaultInjector(httpx.AsyncBaseTransport):
    """Wraps a transport and injects faults.

    ``schedule`` (an iterator of fault names or ``None``) decides per request;
    without it, each request fails with probability ``rate`` with a fault drawn
    from ``faults``. ``corrupt(body) -> (body, n_corrupted)`` may rewrite good
    JSON bodies; the injector sums ``corrupted`` so tests can compare it to the
    adapter's quarantine count.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        rate: float = 0.0,
        faults: Iterable[str] = ("5xx",),
        schedule: Iterator[str | None] | None = None,
        seed: int = 7,
        retry_after: str = "7",
        corrupt: Callable[[Any], tuple[Any, int]] | None = None,
    ) -> None:
        self.inner = inner
        self.rate = rate
        self.faults = tuple(faults)
        self.schedule = schedule
        self.rng = random.Random(seed)
        self.retry_after = retry_after
        self.corrupt = corrupt
        self.injected: list[str | None] = []
        self.corrupted = 0

    def _pick(self) -> str | None:
        if self.schedule is not None:
            return next(self.schedule, None)
        if self.rng.random() < self.rate:
            return self.rng.choice(self.faults)
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._pick()
        self.injected.append(fault)
        if fault == "timeout":
            raise httpx.ReadTimeout("injected read timeout", request=request)
        if fault == "reset":
            raise httpx.ConnectError("injected connection reset", request=request)
        if fault == "5xx":
            return httpx.Response(self.rng.choice((500, 502, 503, 504)), text="upstream error")
        if fault == "429":
            return httpx.Response(
                429,
                headers={"retry-after": self.retry_after, "content-type": "application/json"},
                json={"status": {"error_code": 429, "error_message": "rate limited"}},
            )
        if fault == "html":
            return httpx.Response(
                200,
                headers={"content-type": "text/html"},
                text="<html><body><h1>502 Bad Gateway</h1>cloudflare</body></html>",
            )
        if fault == "empty":
            return httpx.Response(200, headers={"content-type": "application/json"}, content=b"")
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        headers = dict(response.headers)
        headers.pop("content-length", None)
        if fault == "truncated":
            return httpx.Response(
                response.status_code, headers=headers, content=body[: len(body) // 2]
            )
        if fault == "malformed":
            middle = len(body) // 2
            garbled = body[:middle] + b'}{"\x00garbage' + body[middle:]
            return httpx.Response(response.status_code, headers=headers, content=garbled)
        if self.corrupt is not None and response.status_code == 200:
            data, n = self.corrupt(json.loads(body, parse_float=Decimal))
            self.corrupted += n
            body = dumps(data).encode()
        return httpx.Response(response.status_code, headers=headers, content=body)


def make_clock(start: datetime | None = None) -> ManualClock:
    return ManualClock(start or datetime(2026, 1, 1, 11, 30, tzinfo=UTC))


def wiring(
    transport: httpx.AsyncBaseTransport,
    clock: ManualClock,
    registry: CollectorRegistry | None = None,
) -> Wiring:
    return Wiring(
        transport=transport,
        clock=clock,
        rng=random.Random(1),
        metrics=register_metrics(registry) if registry is not None else None,
    )
