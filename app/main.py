"""The Starlette application: routes, middleware and the schema's policy extensions.

``create_app`` assembles three lists, so a component adds itself with one line:

* ``routes``: GraphQL (HTTP and WebSocket), health, metrics, GraphiQL files;
* ``middleware``, outermost first: request context (id, access log, metrics),
  compression, CORS, body cap, then API-key auth, so an auth refusal still has
  a request id, CORS headers and a compressed body, and nothing reads a body
  before the cap applies;
* the schema ``extensions`` the server imposes (error policy, operation
  observer, limits, tracing); domain extensions live in ``schema/build.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from app.auth import ADMIN_ROUTES, AuthMiddleware
from app.components import COMPONENTS
from app.compression import CompressionMiddleware
from app.document_cache import DocumentCache
from app.errors import STATUS_CODES, ErrorPolicy, error_response
from app.graphiql import static_mount
from app.health import healthz, readyz
from app.lifespan import AppState, Component, make_lifespan
from app.limits import query_limits
from app.logging import configure_logging
from app.metrics import Metrics, ObserveOperation
from app.middleware import BodyLimitMiddleware, RequestContextMiddleware
from app.persisted import TrustedDocuments
from app.settings import Settings, get_settings
from app.tracing import tracing_extensions
from app.view import CryptoQLView, graphiql_enabled
from app.ws import LiveSocketServer
from schema.build import ExtensionFactory, build_schema

GRAPHQL_PATH = "/graphql"
#: Response headers a browser page on an allowed origin may read.
CORS_EXPOSED = ["X-Request-ID", "Retry-After"]
# Query cost: a browser page can read its budget and ask for dry runs (docs/cost.md).
COST_REQUEST_HEADERS = ["X-Cost-Dry-Run", "X-Cost-Include-Fields"]
CORS_EXPOSED += [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Cost",
]


def server_extensions(settings: Settings) -> list[ExtensionFactory]:
    """ErrorPolicy first: its post-operation hook then runs last and sees every error.

    DocumentCache skips parsing and validation of known documents and
    TrustedDocuments enforces trusted-documents mode on every transport
    (docs/caching.md).
    """
    return [
        ErrorPolicy,
        ObserveOperation,
        query_limits(settings),
        *tracing_extensions(settings),
        TrustedDocuments,
        DocumentCache,
    ]


def metrics_component(metrics: Metrics) -> Component:
    """Lends the app's Prometheus registry to components as ``services["metrics_registry"]``.

    Components that own process-wide figures (ingest, source adapters) register
    their collectors on it, so they appear on this app's ``/metrics`` only.
    """

    @asynccontextmanager
    async def component(_settings: Settings, _state: AppState) -> AsyncIterator[dict[str, Any]]:
        yield {"metrics_registry": metrics.registry}

    return component


def cors_middleware(settings: Settings) -> list[Middleware]:
    if not settings.cors_origins:
        return []  # same-origin only: browsers refuse cross-origin reads by default
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=[
                "Content-Type",
                "Accept",
                "X-API-Key",
                "Authorization",
                "X-Request-ID",
                *COST_REQUEST_HEADERS,
            ],
            expose_headers=CORS_EXPOSED,
            max_age=600,
        )
    ]


async def _http_exception(_request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (unknown paths, static files) as JSON with a code."""
    assert isinstance(exc, HTTPException)
    return error_response(
        exc.status_code,
        STATUS_CODES.get(exc.status_code, "BAD_REQUEST"),
        exc.detail,
        headers=dict(exc.headers or {}),
    )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    configure_logging(settings)
    metrics = Metrics()
    schema = build_schema(
        compiled_execution=settings.compiled_execution,
        extensions=server_extensions(settings),
        field_suggestions=settings.env == "development",
        max_batch_operations=settings.max_batch_operations,
    )
    view = CryptoQLView(schema, settings=settings)
    live = LiveSocketServer(schema, settings=settings, registry=metrics.registry)

    routes: list[BaseRoute] = [
        Route(GRAPHQL_PATH, view, methods=["GET", "POST"]),
        # Subscriptions: our WebSocket server, shared topics per document (app/ws.py).
        WebSocketRoute(GRAPHQL_PATH, live),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *ADMIN_ROUTES,  # POST /admin/keys/{id}/revoke (app/auth/admin.py)
    ]
    if settings.metrics_enabled:
        routes.append(Route("/metrics", metrics.endpoint, methods=["GET"]))
    if graphiql_enabled(settings):
        routes.append(static_mount())

    middleware = [
        Middleware(
            RequestContextMiddleware,
            metrics=metrics,
            routes=frozenset({GRAPHQL_PATH, "/healthz", "/readyz", "/metrics"}),
        ),
        Middleware(CompressionMiddleware, min_size=settings.compress_min_bytes),
        *cors_middleware(settings),
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        # API keys: refuses keys in URLs, sets request.state.principal (docs/keys.md).
        Middleware(AuthMiddleware),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: _http_exception},
        lifespan=make_lifespan(settings, [metrics_component(metrics), *COMPONENTS]),
    )
    app.state.metrics = metrics
    app.state.live = live  # the WebSocket server (connections, stats) for ops and tests
    return app
