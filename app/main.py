"""The Starlette application."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from app.components import COMPONENTS
from app.lifespan import make_lifespan
from app.settings import Settings, get_settings
from app.view import CryptoQLView
from schema.build import build_schema


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    view = CryptoQLView(build_schema(), graphql_ide=None)
    return Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route("/healthz", healthz),
        ],
        lifespan=make_lifespan(settings, COMPONENTS),
    )
