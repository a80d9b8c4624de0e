"""Asset resolvers."""

from __future__ import annotations

from resolvers.context import Context
from storage.records import AssetRecord


async def asset_by_canonical_id(ctx: Context, canonical_id: str) -> AssetRecord | None:
    return await ctx.loaders.asset_by_canonical_id.load(canonical_id)
