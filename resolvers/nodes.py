"""``node(id:)``: fetch any object implementing ``Node`` by its global id."""

from __future__ import annotations

from resolvers.context import Context
from resolvers.ids import from_global_id
from storage.records import AssetRecord, BlockRecord, ChainRecord

NodeRecord = AssetRecord | ChainRecord | BlockRecord


async def node(ctx: Context, global_id: str) -> NodeRecord | None:
    """The record behind a global id, or ``None`` when it no longer exists."""
    type_name, key = from_global_id(global_id)
    if type_name == "Asset":
        return await ctx.loaders.asset_by_canonical_id.load(key)
    if type_name == "Chain":
        return await ctx.loaders.chain_by_id.load(key)
    chain_id, _, block_hash = key.partition(":")
    if not block_hash:
        return None
    return await ctx.loaders.block_by_hash.load((chain_id, block_hash))
