"""Quote loaders: each source's latest quotes per asset at an instant."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from loaders.base import SessionLoader
from loaders.grouping import group_by
from storage.records import QuoteRecord
from storage.repositories import quotes as repo


class QuoteWindow(NamedTuple):
    """Each source's latest quote at ``at``, looking back no further than ``since``."""

    at: datetime
    since: datetime


class QuoteKey(NamedTuple):
    asset_id: int
    window: QuoteWindow


class CanonicalQuoteKey(NamedTuple):
    canonical_id: str
    currency: str
    window: QuoteWindow


class QuotesByAssetLoader(SessionLoader[QuoteKey, list[QuoteRecord]]):
    """Latest quote per (source, currency) for each asset: one statement per window."""

    async def batch_load_fn(self, keys: list[QuoteKey]) -> list[list[QuoteRecord]]:
        found: dict[QuoteKey, list[QuoteRecord]] = {}
        async with self.sessions() as session:
            for w, group in group_by(keys, lambda k: k.window).items():
                ids = sorted({k.asset_id for k in group})
                rows = await repo.latest_quotes(session, ids, at=w.at, since=w.since)
                for k in group:
                    found[k] = rows.get(k.asset_id, [])
        return [found[k] for k in keys]


class QuotesByCanonicalIdLoader(SessionLoader[CanonicalQuoteKey, list[QuoteRecord]]):
    """Latest quote per source in one currency, by canonical id (conversion rates)."""

    async def batch_load_fn(self, keys: list[CanonicalQuoteKey]) -> list[list[QuoteRecord]]:
        found: dict[CanonicalQuoteKey, list[QuoteRecord]] = {}
        async with self.sessions() as session:
            for (w, currency), group in group_by(keys, lambda k: (k.window, k.currency)).items():
                ids = sorted({k.canonical_id for k in group})
                rows = await repo.latest_quotes_by_canonical_id(
                    session, ids, currency=currency, at=w.at, since=w.since
                )
                for k in group:
                    found[k] = rows.get(k.canonical_id, [])
        return [found[k] for k in keys]
