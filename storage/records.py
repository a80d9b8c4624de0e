"""Plain, immutable records handed from repositories up to the GraphQL layers.

Repositories return these (never live ORM objects), so nothing above storage
can trigger lazy loads or hold a session open.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AssetRecord:
    id: int
    canonical_id: str
    symbol: str
    name: str
    kind: str
    rank: int | None
    native_chain_id: str | None
    categories: tuple[str, ...]
