"""The root Query type."""

from __future__ import annotations

import strawberry

from resolvers import assets as asset_resolvers
from schema.assets import Asset
from schema.info import Info


@strawberry.type(description="The root of the unified crypto graph.")
class Query:
    @strawberry.field(description="One asset by canonical id.")
    async def asset(self, info: Info, id: str) -> Asset | None:
        rec = await asset_resolvers.asset_by_canonical_id(info.context, id)
        return Asset(record=rec) if rec else None
