"""Per-source external ids of assets, read in the direction ingest needs for upstream calls.

``storage.repositories.ingest.asset_ids_by_alias`` maps ids a source *sent*
to our assets; a provider that is *asked* by its own ids (Token Metrics wants
``token_id`` lists) needs the reverse: which of its ids denote the assets we
follow.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AssetAlias


async def aliases_of_source(
    session: AsyncSession, source: str, asset_ids: Sequence[int]
) -> dict[str, int]:
    """``{external_id: asset_id}`` of ``source``'s aliases for ``asset_ids``."""
    if not asset_ids:
        return {}
    stmt = select(AssetAlias.external_id, AssetAlias.asset_id).where(
        AssetAlias.source == source, AssetAlias.asset_id.in_(list(set(asset_ids)))
    )
    return dict((await session.execute(stmt)).all())


__all__ = ["aliases_of_source"]
