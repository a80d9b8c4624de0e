"""On-chain types for assets: token contracts, transfer activity, large transfers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from cost.directives import list_size
from resolvers import chains as chain_resolvers
from resolvers import onchain as onchain_resolvers
from resolvers.instant import Instant
from resolvers.onchain import ActivityWindow, token_units
from schema.chains import Chain, ChainMetricPoint
from schema.compiled.batch import reads
from schema.info import Info
from storage.records import AssetRecord, ContractRecord, TransferRecord


@strawberry.type(description="A token contract of an asset on one chain.")
class Contract:
    record: strawberry.Private[ContractRecord]
    instant: strawberry.Private[Instant]

    @strawberry.field(description="Chain slug, e.g. ethereum.")
    @reads("record.chain_id")
    def chain_id(self) -> str:
        return self.record.chain_id

    @strawberry.field(description="Contract address (lower-case hex).")
    @reads("record.address")
    def address(self) -> str:
        return self.record.address

    @strawberry.field(description="Token decimals: raw amounts ÷ 10^decimals = whole tokens.")
    @reads("record.decimals")
    def decimals(self) -> int:
        return self.record.decimals

    @strawberry.field(description="The chain the contract lives on.")
    async def chain(self, info: Info) -> Chain | None:
        rec = await chain_resolvers.chain(info.context, self.record.chain_id)
        return Chain(record=rec, instant=self.instant) if rec else None


@strawberry.type(description="An ERC-20 transfer.")
class Transfer:
    record: strawberry.Private[TransferRecord]
    decimals: strawberry.Private[int]

    @strawberry.field(description="Chain slug.")
    @reads("record.chain_id")
    def chain_id(self) -> str:
        return self.record.chain_id

    @strawberry.field(description="Transaction hash.")
    @reads("record.tx_hash")
    def tx_hash(self) -> str:
        return self.record.tx_hash

    @strawberry.field(description="Block height.")
    @reads("record.block_number")
    def block_number(self) -> int:
        return self.record.block_number

    @strawberry.field(description="Log index within the block.")
    @reads("record.log_index")
    def log_index(self) -> int:
        return self.record.log_index

    @strawberry.field(name="from", description="Sender address.")
    @reads("record.from_address")
    def from_(self) -> str:
        return self.record.from_address

    @strawberry.field(description="Recipient address.")
    @reads("record.to_address")
    def to(self) -> str:
        return self.record.to_address

    @strawberry.field(description="Amount in whole tokens (exact).")
    def value(self) -> Decimal:
        return token_units(self.record.value, self.decimals)

    @strawberry.field(description="Amount as the raw uint256 from the log.")
    @reads("record.value")
    def raw_value(self) -> Decimal:
        return self.record.value

    @strawberry.field(description="Block timestamp (UTC).")
    @reads("record.timestamp")
    def timestamp(self) -> datetime:
        return self.record.timestamp

    @strawberry.field(description="The source the log came from.")
    @reads("record.source")
    def source(self) -> str:
        return self.record.source


@strawberry.type(description="Transfer activity of one token contract over a recent window.")
class TokenActivity:
    window: strawberry.Private[ActivityWindow]
    instant: strawberry.Private[Instant]

    @strawberry.field(description="The token contract.")
    def contract(self) -> Contract:
        return Contract(record=self.window.contract, instant=self.instant)

    @strawberry.field(description="Window start (inclusive).")
    @reads("window.start")
    def window_start(self) -> datetime:
        return self.window.start

    @strawberry.field(description="Window end (inclusive): the instant read.")
    @reads("window.end")
    def window_end(self) -> datetime:
        return self.window.end

    @strawberry.field(description="Number of transfers in the window.")
    async def transfer_count(self, info: Info) -> int:
        return (await onchain_resolvers.transfer_stats(info.context, self.window)).count

    @strawberry.field(description="Sum of transferred amounts in whole tokens (exact).")
    async def transfer_volume(self, info: Info) -> Decimal:
        stats = await onchain_resolvers.transfer_stats(info.context, self.window)
        return token_units(stats.volume, self.window.contract.decimals)

    @strawberry.field(description="Time of the newest transfer in the window.")
    async def last_transfer_at(self, info: Info) -> datetime | None:
        return (await onchain_resolvers.transfer_stats(info.context, self.window)).last_at

    @strawberry.field(
        description="The largest transfers in the window, largest first.",
        directives=[list_size(slicing_arguments=["first"])],
    )
    async def largest_transfers(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="How many, 0–50.")
        ] = onchain_resolvers.DEFAULT_LARGEST,
    ) -> list[Transfer]:
        rows = await onchain_resolvers.largest_transfers(info.context, self.window, first)
        return [Transfer(record=r, decimals=self.window.contract.decimals) for r in rows]


@strawberry.type(
    description=(
        "On-chain facts about an asset: its chain's metrics when it is a chain's native "
        "asset, transfer activity of its token contracts otherwise."
    )
)
class AssetOnchain:
    asset: strawberry.Private[AssetRecord]
    instant: strawberry.Private[Instant]

    @strawberry.field(description="The chain this asset is the native currency of, if any.")
    async def native_chain(self, info: Info) -> Chain | None:
        rec = await chain_resolvers.chain(info.context, self.asset.native_chain_id)
        return Chain(record=rec, instant=self.instant) if rec else None

    @strawberry.field(
        description="Latest value of each metric of the native chain (empty for tokens).",
        directives=[list_size(assumed_size=20)],
    )
    async def chain_metrics(
        self,
        info: Info,
        kinds: Annotated[
            list[str] | None, strawberry.argument(description="Only these kinds (default: all).")
        ] = None,
    ) -> list[ChainMetricPoint]:
        if self.asset.native_chain_id is None:
            return []
        rows = await chain_resolvers.latest_metrics(
            info.context, self.asset.native_chain_id, self.instant, kinds
        )
        return [ChainMetricPoint.of_record(r) for r in rows]

    @strawberry.field(
        description="Transfer activity per token contract over the last `windowHours`.",
        directives=[list_size(assumed_size=10)],
    )
    async def tokens(
        self,
        info: Info,
        window_hours: Annotated[
            int, strawberry.argument(description="Window length in hours, 1–720.")
        ] = onchain_resolvers.DEFAULT_WINDOW_HOURS,
    ) -> list[TokenActivity]:
        contracts = await onchain_resolvers.contracts(info.context, self.asset.id)
        return [
            TokenActivity(
                window=onchain_resolvers.activity_window(c, self.instant, window_hours),
                instant=self.instant,
            )
            for c in contracts
        ]
