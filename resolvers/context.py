"""The typed, frozen request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loaders.registry import Loaders
from storage.engine import SessionFactory


@dataclass(frozen=True, slots=True)
class Context:
    """Per-request state. Built by ``app.context.build_context``.

    ``now`` is fixed once per request so every freshness figure in one response
    is computed against the same instant.
    """

    loaders: Loaders
    sessions: SessionFactory
    now: datetime
    request_id: str
    stale_after_seconds: int = 300
    extra: dict[str, Any] = field(default_factory=dict)
