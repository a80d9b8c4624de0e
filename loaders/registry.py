"""The per-request set of loaders. Build one with :func:`build_loaders` per request."""

from __future__ import annotations

from dataclasses import dataclass

from loaders.assets import AssetByCanonicalIdLoader, AssetByIdLoader
from storage.engine import SessionFactory


@dataclass(frozen=True, slots=True)
class Loaders:
    asset_by_id: AssetByIdLoader
    asset_by_canonical_id: AssetByCanonicalIdLoader


def build_loaders(sessions: SessionFactory) -> Loaders:
    """Create fresh loaders; must run inside the request's event loop."""
    return Loaders(
        asset_by_id=AssetByIdLoader(sessions),
        asset_by_canonical_id=AssetByCanonicalIdLoader(sessions),
    )
