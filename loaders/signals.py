"""Signal loaders: the latest value of every (kind, source) per asset."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from loaders.base import SessionLoader
from loaders.grouping import group_by
from storage.records import SignalRecord
from storage.repositories import signals as repo


class SignalKey(NamedTuple):
    """All kinds are loaded at once: ``signals(kinds:)`` filters and ``grade`` picks
    from the same cached list, so asking for both costs one statement."""

    asset_id: int
    at: datetime
    since: datetime


class SignalsByAssetLoader(SessionLoader[SignalKey, list[SignalRecord]]):
    async def batch_load_fn(self, keys: list[SignalKey]) -> list[list[SignalRecord]]:
        found: dict[SignalKey, list[SignalRecord]] = {}
        async with self.sessions() as session:
            for (at, since), group in group_by(keys, lambda k: (k.at, k.since)).items():
                ids = sorted({k.asset_id for k in group})
                rows = await repo.latest_signals(session, ids, at=at, since=since)
                for k in group:
                    found[k] = rows.get(k.asset_id, [])
        return [found[k] for k in keys]
