"""Who is calling: the authenticated API key (or an anonymous caller by IP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

ALL_SCOPES = frozenset({"prices", "signals", "onchain", "streaming", "admin"})


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request or WebSocket connection.

    ``key_id`` is the public id of an API key (never its secret); ``None`` for
    anonymous callers, who are identified for budgets by ``client_ip``.
    """

    client_ip: str
    key_id: str | None = None
    tier: str = "anonymous"
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(ALL_SCOPES - {"admin"}))
    expires_at: datetime | None = None

    @property
    def budget_key(self) -> str:
        return f"key:{self.key_id}" if self.key_id else f"ip:{self.client_ip}"

    @property
    def is_anonymous(self) -> bool:
        return self.key_id is None
