"""Asset types: ``Asset`` and its connection, filter and ordering inputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated

import strawberry

from cost.directives import cost, list_size
from resolvers import assets as asset_resolvers
from resolvers import candles as candle_resolvers
from resolvers import onchain as onchain_resolvers
from resolvers import prices as price_resolvers
from resolvers import signals as signal_resolvers
from resolvers.consensus import Consensus
from resolvers.ids import to_global_id
from resolvers.instant import Instant, per_instant
from schema.candles import Candle
from schema.compiled.batch import batched, reads
from schema.connections import PageInfo
from schema.info import Info
from schema.node import Node
from schema.onchain import AssetOnchain, Contract
from schema.prices import Market, Price, make_price
from schema.signals import Grade, Signal, make_signal
from schema.view import constructor
from storage.records import AssetListQuery, AssetPage, AssetPageRow, AssetRecord, SignalRecord

# Batch forms of Asset's per-asset resolvers (schema.compiled.batch): on a list of
# assets the compiled executor calls these once per level instead of once per asset.
# Each is, item for item, the per-asset resolver below.


def _of(assets: Sequence[Asset]) -> list[tuple[int, Instant]]:
    return [(a.record.id, a.instant) for a in assets]


async def _prices(
    assets: Sequence[Asset], info: Info, quote: str = "USD"
) -> list[Price | Exception | None]:
    found = await price_resolvers.consensus_prices(info.context, _of(assets), quote)
    return [f if isinstance(f, Exception) else make_price(f) if f else None for f in found]


async def _consensuses(
    assets: Sequence[Asset], info: Info, quote: str = "USD"
) -> list[Consensus | Exception | None]:
    """:func:`_prices` without the views: each asset's consensus (``Price.consensus``)."""
    return await price_resolvers.consensus_prices(info.context, _of(assets), quote)


async def _markets(
    assets: Sequence[Asset], info: Info, quote: str = "USD"
) -> list[Market | Exception | None]:
    found = await price_resolvers.markets(info.context, _of(assets), quote)
    stale_after = info.context.graph.stale_after
    return [
        rec
        if isinstance(rec, Exception) or rec is None
        else Market.of(rec, a.instant, stale_after(rec.source))
        for a, rec in zip(assets, found, strict=True)
    ]


async def _signals(
    assets: Sequence[Asset], info: Info, kinds: list[str] | None = None
) -> list[list[Signal] | Exception]:
    found = await signal_resolvers.latest_signals_many(info.context, _of(assets))
    wanted = signal_resolvers.kind_filter(kinds)
    out: list[list[Signal] | Exception] = []
    for a, rows in zip(assets, found, strict=True):
        if isinstance(rows, Exception):
            out.append(rows)
            continue
        instant = a.instant
        # signal_resolvers.of_kinds, inline: one list per asset instead of two
        if wanted is None:
            out.append([make_signal(s, instant) for s in rows])
        else:
            out.append([make_signal(s, instant) for s in rows if s.kind in wanted])
    return out


async def _signal_records(
    assets: Sequence[Asset], info: Info, kinds: list[str] | None = None
) -> list[list[SignalRecord] | Exception]:
    """:func:`_signals` without the views: each asset's records (``Signal.record``)."""
    found = await signal_resolvers.latest_signals_many(info.context, _of(assets))
    wanted = signal_resolvers.kind_filter(kinds)
    of_kinds = signal_resolvers.of_kinds
    return [rows if isinstance(rows, Exception) else of_kinds(rows, wanted) for rows in found]


async def _grades(assets: Sequence[Asset], info: Info) -> list[Grade | Exception | None]:
    found = await signal_resolvers.latest_signals_many(info.context, _of(assets))
    out: list[Grade | Exception | None] = []
    for a, rows in zip(assets, found, strict=True):
        if isinstance(rows, Exception):
            out.append(rows)
        else:
            rec = signal_resolvers.latest_grade(rows)
            out.append(Grade.of(rec, a.instant) if rec else None)
    return out


async def _candles(
    assets: Sequence[Asset],
    info: Info,
    interval: str,
    from_: datetime | None = None,
    to: datetime | None = None,
    last: int | None = None,
    quote: str = "USD",
) -> list[list[Candle] | Exception]:
    # One window per instant; a bad argument raises here, for every asset.
    window = per_instant(
        lambda instant: candle_resolvers.candle_window(
            instant, interval=interval, quote=quote, from_=from_, to=to, last=last
        )
    )
    found = await candle_resolvers.candles_many(
        info.context, [(a.record.id, window(a.instant)) for a in assets]
    )
    return [
        rows if isinstance(rows, Exception) else [Candle.of(b, interval) for b in rows]
        for rows in found
    ]


def _global_id(canonical_id: str) -> strawberry.ID:
    return strawberry.ID(to_global_id("Asset", canonical_id))


@strawberry.type(
    description=(
        "A canonical crypto asset: one identity across every source. Values below are read "
        "at `asOf` (the root's `asOf` argument, or the request time)."
    )
)
class Asset(Node):
    record: strawberry.Private[AssetRecord]
    instant: strawberry.Private[Instant]

    @strawberry.field(description="Opaque global id for `node(id:)`.")
    @reads("record.canonical_id", via=_global_id)
    def id(self) -> strawberry.ID:
        return _global_id(self.record.canonical_id)

    @strawberry.field(description="Canonical id (CoinGecko id for coins, CAIP-19 for tokens).")
    @reads("record.canonical_id")
    def canonical_id(self) -> str:
        return self.record.canonical_id

    @strawberry.field(description="Ticker symbol. Not unique: never use it as an identifier.")
    @reads("record.symbol")
    def symbol(self) -> str:
        return self.record.symbol

    @strawberry.field(description="Human-readable name.")
    @reads("record.name")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="coin, token, stablecoin or fiat.")
    @reads("record.kind")
    def kind(self) -> str:
        return self.record.kind

    @strawberry.field(description="Market-cap rank as published by the identity source.")
    @reads("record.rank")
    def rank(self) -> int | None:
        return self.record.rank

    @strawberry.field(
        description="Categories, e.g. layer-1, defi.",
        directives=[list_size(assumed_size=10)],
    )
    def categories(self) -> list[str]:
        return list(self.record.categories)

    @strawberry.field(description="The instant the values of this asset are read at.")
    @reads("instant.at")
    def as_of(self) -> datetime:
        return self.instant.at

    @strawberry.field(
        description=(
            "Consensus price across sources in `quote`, with freshness, spread and the "
            "per-source quotes behind it. Null when no source has quoted the asset."
        )
    )
    @batched(_prices, bare=_consensuses, view="consensus")
    async def price(
        self,
        info: Info,
        quote: Annotated[
            str, strawberry.argument(description="Quote currency, e.g. USD or USDT.")
        ] = "USD",
    ) -> Price | None:
        found = await price_resolvers.consensus_price(
            info.context, self.record.id, self.instant, quote
        )
        return Price.of(found) if found else None

    @strawberry.field(description="Market cap, volume, changes and supply, with provenance.")
    @batched(_markets)
    async def market(
        self,
        info: Info,
        quote: Annotated[
            str, strawberry.argument(description="Currency of the money figures.")
        ] = "USD",
    ) -> Market | None:
        rec = await price_resolvers.market(info.context, self.record.id, self.instant, quote)
        if rec is None:
            return None
        return Market.of(rec, self.instant, info.context.graph.stale_after(rec.source))

    @strawberry.field(
        description=(
            "OHLCV candles, oldest first, for any interval 1m…1M built from stored finer "
            "candles. Window: the `last` bucket slots up to `to` (default: the instant), "
            "and/or buckets opening at or after `from`; at most 1000 (default 100)."
        ),
        directives=[
            cost(2.0),
            list_size(
                assumed_size=candle_resolvers.DEFAULT_LAST,
                slicing_arguments=["last"],
                require_one_slicing_argument=False,
            ),
        ],
    )
    @batched(_candles)
    async def candles(
        self,
        info: Info,
        interval: Annotated[
            str,
            strawberry.argument(
                description="1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w (Monday) 1M (month)."
            ),
        ],
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Earliest bucket open time."),
        ] = None,
        to: Annotated[
            datetime | None,
            strawberry.argument(description="The last bucket is the one containing `to`."),
        ] = None,
        last: Annotated[
            int | None, strawberry.argument(description="Number of bucket slots, 1–1000.")
        ] = None,
        quote: Annotated[
            str, strawberry.argument(description="Quote currency (no conversion is applied).")
        ] = "USD",
    ) -> list[Candle]:
        window = candle_resolvers.candle_window(
            self.instant, interval=interval, quote=quote, from_=from_, to=to, last=last
        )
        buckets = await candle_resolvers.candles(info.context, self.record.id, window)
        return [Candle.of(b, interval) for b in buckets]

    @strawberry.field(
        description="The latest value of each signal kind from each source.",
        directives=[list_size(assumed_size=20)],
    )
    @batched(_signals, bare=_signal_records)
    async def signals(
        self,
        info: Info,
        kinds: Annotated[
            list[str] | None,
            strawberry.argument(description='Only these kinds, e.g. ["rsi", "macd"].'),
        ] = None,
    ) -> list[Signal]:
        rows = await signal_resolvers.signals(info.context, self.record.id, self.instant, kinds)
        return [Signal.of(s, self.instant) for s in rows]

    @strawberry.field(description="The composite trader grade (0–100) with its components.")
    @batched(_grades)
    async def grade(self, info: Info) -> Grade | None:
        rec = await signal_resolvers.grade(info.context, self.record.id, self.instant)
        return Grade.of(rec, self.instant) if rec else None

    @strawberry.field(
        description="Token contracts per chain.", directives=[list_size(assumed_size=10)]
    )
    async def contracts(self, info: Info) -> list[Contract]:
        rows = await onchain_resolvers.contracts(info.context, self.record.id)
        return [Contract(record=r, instant=self.instant) for r in rows]

    @strawberry.field(description="On-chain facts: chain metrics or token transfer activity.")
    def onchain(self) -> AssetOnchain:
        return AssetOnchain(asset=self.record, instant=self.instant)


@strawberry.type(description="An edge in an asset connection.")
class AssetEdge:
    query: strawberry.Private[AssetListQuery]
    row: strawberry.Private[AssetPageRow]
    asset: strawberry.Private[Asset]

    @strawberry.field(description="Opaque cursor of this asset in this ordering.")
    def cursor(self) -> str:
        # Encoded only when selected: a dashboard page rarely asks for every cursor.
        return asset_resolvers.cursor_of(self.query, self.row)

    @strawberry.field(description="The asset.")
    @reads("asset")
    def node(self) -> Asset:
        return self.asset


@strawberry.enum(description="What to order the asset list by.")
class AssetOrderField(Enum):
    MARKET_CAP = strawberry.enum_value("MARKET_CAP", description="Latest USD market cap.")
    VOLUME_24H = strawberry.enum_value("VOLUME_24H", description="Latest USD 24 h volume.")
    CHANGE_24H = strawberry.enum_value("CHANGE_24H", description="Latest 24 h price change.")
    GRADE = strawberry.enum_value("GRADE", description="Latest trader grade.")
    RANK = strawberry.enum_value("RANK", description="Published market-cap rank.")


@strawberry.enum(description="Sort direction.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("ASC", description="Smallest first.")
    DESC = strawberry.enum_value("DESC", description="Largest first.")


@strawberry.input(
    description=(
        "Asset ordering. Assets without the figure (none observed recently) come last; "
        "ties are broken by a stable internal id."
    )
)
class AssetOrder:
    field: AssetOrderField = strawberry.field(
        default=AssetOrderField.MARKET_CAP, description="The sort key."
    )
    direction: OrderDirection | None = strawberry.field(
        default=None, description="Default: ASC for RANK, DESC otherwise."
    )


@strawberry.input(description="Asset filters; all given filters must match.")
class AssetFilter:
    ids: list[str] | None = strawberry.field(default=None, description="Canonical ids.")
    symbols: list[str] | None = strawberry.field(
        default=None, description="Symbols (case-insensitive); may match several assets."
    )
    kind: str | None = strawberry.field(
        default=None, description="coin, token, stablecoin or fiat."
    )
    category: str | None = strawberry.field(default=None, description="A category, e.g. defi.")
    min_market_cap: Decimal | None = strawberry.field(
        default=None, description="Minimum latest USD market cap."
    )


@strawberry.type(description="A page of assets (Relay cursor connection).")
class AssetConnection:
    query: strawberry.Private[AssetListQuery]
    has_next: strawberry.Private[bool]
    edges: list[AssetEdge] = strawberry.field(description="Assets with their cursors.")
    nodes: list[Asset] = strawberry.field(description="The assets, without cursors.")

    @strawberry.field(description="Paging state.")
    def page_info(self) -> PageInfo:
        # Cursors are encoded only when selected: a ticker polls without paging.
        edges = self.edges
        return PageInfo(
            has_next_page=self.has_next,
            has_previous_page=self.query.after is not None,
            start_cursor=edges[0].cursor() if edges else None,
            end_cursor=edges[-1].cursor() if edges else None,
        )

    @strawberry.field(description="How many assets match the filter (all pages).")
    async def total_count(self, info: Info) -> int:
        return await asset_resolvers.asset_count(info.context, self.query)

    @classmethod
    def of(cls, query: AssetListQuery, page: AssetPage, instant: Instant) -> AssetConnection:
        edge, asset = make_edge, make_asset
        edges = [edge(query, row, asset(row.asset, instant)) for row in page.rows]
        return cls(query=query, has_next=page.has_next, edges=edges, nodes=[e.asset for e in edges])


#: ``Asset(record=, instant=)`` and ``AssetEdge(query=, row=, asset=)``, positionally
#: and at half the cost (schema.view): a page builds one of each per row
make_asset: Callable[[AssetRecord, Instant], Asset] = constructor(Asset)
make_edge: Callable[[AssetListQuery, AssetPageRow, Asset], AssetEdge] = constructor(AssetEdge)


def filter_args(f: AssetFilter | None) -> asset_resolvers.AssetFilterArgs | None:
    if f is None:
        return None
    return asset_resolvers.AssetFilterArgs(
        ids=f.ids,
        symbols=f.symbols,
        kind=f.kind,
        category=f.category,
        min_market_cap=f.min_market_cap,
    )


def order_args(order: AssetOrder | None) -> tuple[str, bool]:
    """(sort key, descending); RANK reads smallest first unless told otherwise."""
    order = order or AssetOrder()
    direction = order.direction or (
        OrderDirection.ASC if order.field is AssetOrderField.RANK else OrderDirection.DESC
    )
    return order.field.name, direction is OrderDirection.DESC
