"""Candle loader: the finer stored candles behind an on-read aggregation.

Keys sharing a window (interval, range, quote, instant) are served by two
statements whatever the number of assets: an ``EXISTS`` probe that finds,
per asset, the coarsest stored interval that can build the requested one,
then one fetch of those candles.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from loaders.base import SessionLoader
from loaders.grouping import group_by
from storage.records import CandleRecord
from storage.repositories import candles as repo

# ``open_time < end`` with ``end`` just past ``at`` includes a candle opening exactly at ``at``.
_EPSILON = timedelta(microseconds=1)


class CandleWindow(NamedTuple):
    """Buckets of ``interval`` opening in ``[first, last]``, read at ``at``.

    ``candidates`` are the stored intervals able to build ``interval``,
    coarsest first; ``fetch_end`` is the close time of the last bucket.
    """

    interval: str
    candidates: tuple[str, ...]
    quote_currency: str
    first: datetime
    last: datetime
    fetch_end: datetime
    at: datetime
    historical: bool


class CandleKey(NamedTuple):
    asset_id: int
    window: CandleWindow


@dataclass(frozen=True, slots=True)
class StoredCandles:
    """The stored interval chosen for an asset (``None``: nothing stored) and its candles."""

    interval: str | None
    candles: tuple[CandleRecord, ...]


class CandlesByAssetLoader(SessionLoader[CandleKey, StoredCandles]):
    async def batch_load_fn(self, keys: list[CandleKey]) -> list[StoredCandles]:
        found: dict[CandleKey, StoredCandles] = {}
        async with self.sessions() as session:
            for w, group in group_by(keys, lambda k: k.window).items():
                ids = sorted({k.asset_id for k in group})
                end = min(w.fetch_end, w.at + _EPSILON)
                stored = await repo.stored_intervals(
                    session,
                    ids,
                    w.candidates,
                    quote_currency=w.quote_currency,
                    start=w.first,
                    end=end,
                )
                chosen: dict[int, str] = {}
                for asset_id, intervals in stored.items():
                    best = next((iv for iv in w.candidates if iv in intervals), None)
                    if best is not None:
                        chosen[asset_id] = best
                by_interval: dict[str, list[int]] = defaultdict(list)
                for asset_id, iv in chosen.items():
                    by_interval[iv].append(asset_id)
                rows = await repo.candles_in_window(
                    session,
                    by_interval,
                    quote_currency=w.quote_currency,
                    start=w.first,
                    end=end,
                )
                per_asset: dict[int, list[CandleRecord]] = defaultdict(list)
                for c in rows:
                    if chosen.get(c.asset_id) == c.interval:
                        per_asset[c.asset_id].append(c)
                for k in group:
                    found[k] = StoredCandles(
                        interval=chosen.get(k.asset_id),
                        candles=tuple(per_asset.get(k.asset_id, ())),
                    )
        return [found[k] for k in keys]
