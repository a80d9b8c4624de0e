"""Builds the per-request :class:`resolvers.context.Context`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import HTTPConnection

from app.lifespan import AppState
from loaders.registry import build_loaders
from resolvers.config import GraphConfig
from resolvers.context import Context
from resolvers.principal import Principal


def state_of(conn: HTTPConnection) -> AppState:
    st = conn.state
    return AppState(
        settings=st.settings, engine=st.engine, sessions=st.sessions, services=st.services
    )


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


def build_context(conn: HTTPConnection, response: Any = None) -> Context:
    state = state_of(conn)
    request_id = getattr(conn.state, "request_id", None) or uuid.uuid4().hex
    principal = getattr(conn.state, "principal", None) or Principal(client_ip=client_ip(conn))
    return Context(
        loaders=build_loaders(state["sessions"]),
        sessions=state["sessions"],
        now=datetime.now(UTC),
        request_id=request_id,
        principal=principal,
        response=response,
        stale_after_seconds=state["settings"].stale_after_seconds,
        graph=GraphConfig.cached(state["settings"]),
        services=state["services"],
        request=conn,
    )
