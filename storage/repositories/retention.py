"""Retention: deleting quotes that are older than anyone needs, a bounded batch at a time.

Quotes are per-observation rows: the simulated market writes one per asset and
venue every tick (≈27 rows/s with the defaults) and the live exchange streams
one per market per flush, so without pruning the table grows for ever while
only the newest rows are read for prices (history is served from candles,
which are never pruned here).

Deletes go by primary key in batches (``DELETE … WHERE id IN (SELECT id …
LIMIT n)``) so each transaction is short: SQLite holds its single write lock
only for one batch, and PostgreSQL never builds one huge transaction while
ingest keeps writing. The caller commits each batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Quote


async def prune_quotes(
    session: AsyncSession,
    *,
    before: datetime,
    sources: Sequence[str] | None = None,
    exclude_sources: Sequence[str] = (),
    limit: int = 5000,
) -> int:
    """Delete up to ``limit`` quotes observed before ``before``; returns how many went.

    ``sources`` restricts the delete to those sources (``None``: every source);
    ``exclude_sources`` spares some. The caller loops until fewer than
    ``limit`` rows were deleted, committing between batches.
    """
    pick = select(Quote.id).where(Quote.observed_at < before)
    if sources is not None:
        if not sources:
            return 0
        pick = pick.where(Quote.source.in_(list(sources)))
    if exclude_sources:
        pick = pick.where(Quote.source.not_in(list(exclude_sources)))
    ids = (await session.execute(pick.limit(limit))).scalars().all()
    if not ids:
        return 0
    result = await session.execute(delete(Quote).where(Quote.id.in_(ids)))
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


__all__ = ["prune_quotes"]
