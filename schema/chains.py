"""Chain types: ``Chain``, ``Block`` (+ connection), ``Gas`` and metric points."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from cost.directives import list_size
from resolvers import assets as asset_resolvers
from resolvers import chains as chain_resolvers
from resolvers.chains import MetricPoint
from resolvers.ids import to_global_id
from resolvers.instant import Instant
from schema.compiled.batch import reads
from schema.connections import PageInfo
from schema.info import Info
from schema.node import Node
from storage.records import BlockRecord, ChainMetricRecord, ChainRecord

if TYPE_CHECKING:
    from schema.assets import Asset


@strawberry.enum(description="How points inside one interval bucket are combined.")
class MetricAggregate(Enum):
    LAST = strawberry.enum_value("LAST", description="The newest point of the bucket.")
    MEAN = strawberry.enum_value("MEAN", description="Arithmetic mean.")
    MIN = strawberry.enum_value("MIN", description="Smallest value.")
    MAX = strawberry.enum_value("MAX", description="Largest value.")
    SUM = strawberry.enum_value("SUM", description="Sum (for counts and volumes).")


@strawberry.type(description="A chain metric value: a raw point or an aggregated bucket.")
class ChainMetricPoint:
    kind: str = strawberry.field(description="Metric kind, e.g. base_fee, gas_used_ratio.")
    observed_at: datetime = strawberry.field(
        description="The point's time, or the bucket's start when aggregated."
    )
    value: Decimal = strawberry.field(description="The value (exact).")
    source: str = strawberry.field(description="The source (of the newest point in a bucket).")
    count: int = strawberry.field(description="Points behind the value (1 for a raw point).")
    interval: str | None = strawberry.field(description="Bucket interval, null for raw points.")

    @classmethod
    def of_record(cls, r: ChainMetricRecord) -> ChainMetricPoint:
        return cls(
            kind=r.kind, observed_at=r.ts, value=r.value, source=r.source, count=1, interval=None
        )

    @classmethod
    def of_point(cls, p: MetricPoint) -> ChainMetricPoint:
        return cls(
            kind=p.kind,
            observed_at=p.ts,
            value=p.value,
            source=p.source,
            count=p.count,
            interval=p.interval,
        )


@strawberry.type(description="A block header with its fee summary.")
class Block(Node):
    record: strawberry.Private[BlockRecord]

    @strawberry.field(description="Opaque global id for `node(id:)`.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Block", f"{self.record.chain_id}:{self.record.hash}"))

    @strawberry.field(description="Chain slug, e.g. ethereum.")
    @reads("record.chain_id")
    def chain_id(self) -> str:
        return self.record.chain_id

    @strawberry.field(description="Block height.")
    @reads("record.number")
    def number(self) -> int:
        return self.record.number

    @strawberry.field(description="Block hash (0x…).")
    @reads("record.hash")
    def hash(self) -> str:
        return self.record.hash

    @strawberry.field(description="Parent block hash.")
    @reads("record.parent_hash")
    def parent_hash(self) -> str:
        return self.record.parent_hash

    @strawberry.field(description="Block timestamp (UTC).")
    @reads("record.timestamp")
    def timestamp(self) -> datetime:
        return self.record.timestamp

    @strawberry.field(description="Gas used.")
    @reads("record.gas_used")
    def gas_used(self) -> Decimal:
        return self.record.gas_used

    @strawberry.field(description="Gas limit.")
    @reads("record.gas_limit")
    def gas_limit(self) -> Decimal:
        return self.record.gas_limit

    @strawberry.field(description="Base fee per gas in wei (null before EIP-1559).")
    @reads("record.base_fee_per_gas")
    def base_fee_per_gas(self) -> Decimal | None:
        return self.record.base_fee_per_gas

    @strawberry.field(description="Number of transactions.")
    @reads("record.tx_count")
    def tx_count(self) -> int:
        return self.record.tx_count

    @strawberry.field(description="False once a reorg replaced this block.")
    @reads("record.canonical")
    def canonical(self) -> bool:
        return self.record.canonical

    @strawberry.field(description="The source the block came from (an RPC endpoint name).")
    @reads("record.source")
    def source(self) -> str:
        return self.record.source


@strawberry.type(description="An edge in a block connection.")
class BlockEdge:
    cursor: str = strawberry.field(description="Opaque cursor of this block.")
    node: Block = strawberry.field(description="The block.")


@strawberry.type(description="A page of blocks, newest first.")
class BlockConnection:
    edges: list[BlockEdge] = strawberry.field(description="Blocks with their cursors.")
    nodes: list[Block] = strawberry.field(description="The blocks, without cursors.")
    page_info: PageInfo = strawberry.field(description="Paging state.")


@strawberry.type(description="Gas prices at the head block (EIP-1559 base fee and tips, in wei).")
class Gas:
    base_fee: Decimal | None = strawberry.field(description="Base fee per gas of the head block.")
    priority_fee_p10: Decimal | None = strawberry.field(
        description="10th percentile priority fee (tip) in the head block."
    )
    priority_fee_p50: Decimal | None = strawberry.field(description="Median priority fee.")
    priority_fee_p90: Decimal | None = strawberry.field(description="90th percentile priority fee.")
    block: Block = strawberry.field(description="The block these figures come from.")
    observed_at: datetime = strawberry.field(description="That block's timestamp.")
    age_seconds: int = strawberry.field(description="Its age at the instant read.")
    source: str = strawberry.field(description="The source of the block.")


@strawberry.type(description="A blockchain network (CAIP-2).")
class Chain(Node):
    record: strawberry.Private[ChainRecord]
    instant: strawberry.Private[Instant]

    @strawberry.field(description="Opaque global id for `node(id:)`.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Chain", self.record.id))

    @strawberry.field(description="Chain slug, e.g. ethereum (what `chain(id:)` accepts).")
    @reads("record.id")
    def slug(self) -> str:
        return self.record.id

    @strawberry.field(description="Human-readable name.")
    @reads("record.name")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="CAIP-2 id, e.g. eip155:1.")
    @reads("record.caip2")
    def caip2(self) -> str:
        return self.record.caip2

    @strawberry.field(description="EVM chain id (null for non-EVM chains).")
    @reads("record.evm_chain_id")
    def evm_chain_id(self) -> int | None:
        return self.record.evm_chain_id

    @strawberry.field(description="The chain's native asset (ETH for ethereum).")
    async def native_asset(
        self, info: Info
    ) -> Annotated[Asset, strawberry.lazy("schema.assets")] | None:
        from schema.assets import Asset

        rec = await asset_resolvers.asset_by_id(info.context, self.record.native_asset_id)
        return Asset(record=rec, instant=self.instant) if rec else None

    @strawberry.field(description="The newest canonical block at the instant read.")
    async def head(self, info: Info) -> Block | None:
        rec = await chain_resolvers.head(info.context, self.record.id, self.instant)
        return Block(record=rec) if rec else None

    @strawberry.field(
        description="Canonical blocks, newest first.",
        directives=[list_size(slicing_arguments=["first"], sized_fields=["edges", "nodes"])],
    )
    async def blocks(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="Page size, 0–100.")
        ] = chain_resolvers.DEFAULT_BLOCKS,
        after: Annotated[
            str | None, strawberry.argument(description="Continue after this cursor (older).")
        ] = None,
    ) -> BlockConnection:
        page = await chain_resolvers.blocks(
            info.context, self.record.id, self.instant, first=first, after=after
        )
        edges = [
            BlockEdge(cursor=chain_resolvers.block_cursor(b), node=Block(record=b))
            for b in page.blocks
        ]
        return BlockConnection(
            edges=edges,
            nodes=[e.node for e in edges],
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(description="Base fee and priority-fee percentiles at the head block.")
    async def gas(self, info: Info) -> Gas | None:
        rec = await chain_resolvers.head(info.context, self.record.id, self.instant)
        if rec is None:
            return None
        return Gas(
            base_fee=rec.base_fee_per_gas,
            priority_fee_p10=rec.priority_fee_p10,
            priority_fee_p50=rec.priority_fee_p50,
            priority_fee_p90=rec.priority_fee_p90,
            block=Block(record=rec),
            observed_at=rec.timestamp,
            age_seconds=self.instant.age_seconds(rec.timestamp),
            source=rec.source,
        )

    @strawberry.field(
        description="The latest value of each metric kind at the instant read.",
        directives=[list_size(assumed_size=20)],
    )
    async def latest_metrics(
        self,
        info: Info,
        kinds: Annotated[
            list[str] | None, strawberry.argument(description="Only these kinds (default: all).")
        ] = None,
    ) -> list[ChainMetricPoint]:
        rows = await chain_resolvers.latest_metrics(
            info.context, self.record.id, self.instant, kinds
        )
        return [ChainMetricPoint.of_record(r) for r in rows]

    @strawberry.field(
        description=(
            "A metric as a time series, oldest first: raw points, or one point per `interval` "
            "bucket combined by `aggregate`. Raw points: the newest `last` (default 100) up to "
            "`to`, none before `from`. Buckets: the `last` bucket slots up to `to`, or every "
            "bucket from `from` when `last` is not given. At most 1000."
        ),
        directives=[
            list_size(
                assumed_size=chain_resolvers.DEFAULT_POINTS,
                slicing_arguments=["last"],
                require_one_slicing_argument=False,
            )
        ],
    )
    async def metrics(
        self,
        info: Info,
        kind: Annotated[str, strawberry.argument(description="Metric kind, e.g. base_fee.")],
        interval: Annotated[
            str | None,
            strawberry.argument(description="Bucket interval (1m…1M); null for raw points."),
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Earliest point/bucket start."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Latest time (default: the instant).")
        ] = None,
        last: Annotated[
            int | None,
            strawberry.argument(description="How many points/buckets, newest last (default 100)."),
        ] = None,
        aggregate: Annotated[
            MetricAggregate, strawberry.argument(description="How a bucket's points combine.")
        ] = MetricAggregate.LAST,
    ) -> list[ChainMetricPoint]:
        points = await chain_resolvers.metric_series(
            info.context,
            self.record.id,
            self.instant,
            kind=kind,
            interval=interval,
            from_=from_,
            to=to,
            last=last,
            aggregate=aggregate.name,
        )
        return [ChainMetricPoint.of_point(p) for p in points]
