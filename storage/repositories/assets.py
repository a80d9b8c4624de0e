"""Asset reads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Asset, AssetCategory
from storage.records import AssetRecord


async def assets_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, AssetRecord]:
    rows = (await session.execute(select(Asset).where(Asset.id.in_(ids)))).scalars().all()
    return await _with_categories(session, rows)


async def assets_by_canonical_ids(
    session: AsyncSession, canonical_ids: Sequence[str]
) -> dict[str, AssetRecord]:
    rows = (
        (await session.execute(select(Asset).where(Asset.canonical_id.in_(canonical_ids))))
        .scalars()
        .all()
    )
    by_id = await _with_categories(session, rows)
    return {rec.canonical_id: rec for rec in by_id.values()}


async def _with_categories(session: AsyncSession, rows: Sequence[Asset]) -> dict[int, AssetRecord]:
    if not rows:
        return {}
    cats: dict[int, list[str]] = defaultdict(list)
    stmt = (
        select(AssetCategory.asset_id, AssetCategory.category)
        .where(AssetCategory.asset_id.in_([r.id for r in rows]))
        .order_by(AssetCategory.asset_id, AssetCategory.category)
    )
    for asset_id, category in (await session.execute(stmt)).all():
        cats[asset_id].append(category)
    return {
        r.id: AssetRecord(
            id=r.id,
            canonical_id=r.canonical_id,
            symbol=r.symbol,
            name=r.name,
            kind=r.kind,
            rank=r.rank,
            native_chain_id=r.native_chain_id,
            categories=tuple(cats.get(r.id, ())),
        )
        for r in rows
    }
