"""The typed, frozen request context every resolver receives."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loaders.registry import Loaders
from resolvers.config import GraphConfig
from resolvers.principal import Principal
from storage.engine import SessionFactory


@dataclass(frozen=True, slots=True)
class Context:
    """Per-request (or per-WebSocket-operation) state, built by ``app.context``.

    ``now`` is fixed once per request so every freshness figure in one response
    is computed against the same instant. ``response`` is strawberry's
    sub-response (a Starlette ``Response`` for HTTP, the ``WebSocket`` for WS):
    extensions set headers and status codes on it. ``services`` carries
    long-lived, process-wide resources (broker, budgets …) by name.
    """

    loaders: Loaders
    sessions: SessionFactory
    now: datetime
    request_id: str
    principal: Principal
    response: Any = None
    stale_after_seconds: int = 300
    # Graph read tunables (freshness, look-backs, consensus); see resolvers.config.
    graph: GraphConfig = field(default_factory=GraphConfig)
    services: dict[str, Any] = field(default_factory=dict)
    # Per-request memo: values computed once per request (keys: strings or tuples).
    extra: dict[Hashable, Any] = field(default_factory=dict)
    # The Starlette Request or WebSocket being served (request headers, e.g. the
    # cost dry-run and breakdown flags read by schema.ratelimit).
    request: Any = None
