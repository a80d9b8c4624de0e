"""Asset types."""

from __future__ import annotations

import strawberry

from storage.records import AssetRecord


@strawberry.type(description="A canonical crypto asset: one identity across every source.")
class Asset:
    record: strawberry.Private[AssetRecord]

    @strawberry.field(description="Canonical id (CoinGecko id for coins, CAIP-19 for tokens).")
    def canonical_id(self) -> str:
        return self.record.canonical_id

    @strawberry.field(description="Ticker symbol. Not unique: never use it as an identifier.")
    def symbol(self) -> str:
        return self.record.symbol

    @strawberry.field(description="Human-readable name.")
    def name(self) -> str:
        return self.record.name
