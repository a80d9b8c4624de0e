"""Candle reads for on-read aggregation.

Two statements serve any number of assets sharing one window:

1. ``stored_intervals``: for each asset, which of the candidate source
   intervals have at least one candle in the window (one ``EXISTS`` per
   candidate, each an index seek on ``ix_candles_lookup``), so the caller can
   pick the coarsest stored interval per asset without reading finer rows;
2. ``candles_in_window``: the candles of the chosen interval per asset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Asset, Candle
from storage.records import CandleRecord
from storage.repositories.decode import as_text, dec, dec_required

# Prices as exact text (storage.repositories.decode): the fetch reads thousands of rows.
_COLUMNS = (
    Candle.source,
    Candle.asset_id,
    Candle.quote_currency,
    Candle.interval,
    Candle.open_time,
    as_text(Candle.open),
    as_text(Candle.high),
    as_text(Candle.low),
    as_text(Candle.close),
    as_text(Candle.volume),
    Candle.is_complete,
)
d = dec_required


async def stored_intervals(
    session: AsyncSession,
    asset_ids: Sequence[int],
    intervals: Sequence[str],
    *,
    quote_currency: str,
    start: datetime,
    end: datetime,
) -> dict[int, set[str]]:
    """Which of ``intervals`` have a candle with ``start <= open_time < end``, per asset."""
    if not asset_ids or not intervals:
        return {}
    probes: list[Any] = [
        exists()
        .where(
            Candle.asset_id == Asset.id,
            Candle.interval == interval,
            Candle.quote_currency == quote_currency,
            Candle.open_time >= start,
            Candle.open_time < end,
        )
        .label(f"i{n}")
        for n, interval in enumerate(intervals)
    ]
    stmt = select(Asset.id, *probes).where(Asset.id.in_(asset_ids))
    out: dict[int, set[str]] = {}
    for row in (await session.execute(stmt)).all():
        out[row[0]] = {iv for iv, flag in zip(intervals, row[1:], strict=True) if flag}
    return out


async def candles_in_window(
    session: AsyncSession,
    assets_by_interval: Mapping[str, Sequence[int]],
    *,
    quote_currency: str,
    start: datetime,
    end: datetime,
) -> list[CandleRecord]:
    """Candles with ``start <= open_time < end`` of the given interval for each asset group."""
    groups = [
        and_(Candle.interval == interval, Candle.asset_id.in_(ids))
        for interval, ids in assets_by_interval.items()
        if ids
    ]
    if not groups:
        return []
    stmt = (
        select(*_COLUMNS)
        .where(
            or_(*groups),
            Candle.quote_currency == quote_currency,
            Candle.open_time >= start,
            Candle.open_time < end,
        )
        .order_by(Candle.asset_id, Candle.source, Candle.open_time)
    )
    return [
        CandleRecord(src, aid, cur, iv, t, d(o), d(h), d(lo), d(c), dec(v), done)
        for src, aid, cur, iv, t, o, h, lo, c, v, done in (await session.execute(stmt)).all()
    ]
