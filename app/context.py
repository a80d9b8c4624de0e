"""Builds the per-request :class:`resolvers.context.Context`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from starlette.requests import HTTPConnection

from app.lifespan import AppState
from loaders.registry import build_loaders
from resolvers.context import Context


def state_of(conn: HTTPConnection) -> AppState:
    st = conn.state
    return AppState(settings=st.settings, engine=st.engine, sessions=st.sessions)


def build_context(conn: HTTPConnection) -> Context:
    state = state_of(conn)
    request_id = getattr(conn.state, "request_id", None) or uuid.uuid4().hex
    return Context(
        loaders=build_loaders(state["sessions"]),
        sessions=state["sessions"],
        now=datetime.now(UTC),
        request_id=request_id,
        stale_after_seconds=state["settings"].stale_after_seconds,
    )
