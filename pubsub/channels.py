"""Channel naming, in one place.

What each channel carries is defined by the builders in :mod:`pubsub.messages`.
"""

from __future__ import annotations

PREFIX = "cryptoql"


def prices(asset_canonical_id: str, quote: str = "USD") -> str:
    """Consensus/observed price updates for one asset in one quote currency."""
    return f"{PREFIX}:prices:{quote.upper()}:{asset_canonical_id}"


def candles(asset_canonical_id: str, interval: str) -> str:
    return f"{PREFIX}:candles:{interval}:{asset_canonical_id}"


def blocks(chain_id: str) -> str:
    return f"{PREFIX}:blocks:{chain_id}"


def signals(asset_canonical_id: str) -> str:
    return f"{PREFIX}:signals:{asset_canonical_id}"


def data_version(domain: str) -> str:
    """Bumped by ingest whenever a domain's stored data changes (cache invalidation)."""
    return f"{PREFIX}:version:{domain}"
