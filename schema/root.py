"""The root Query type: entry points into the graph, each delegating to a resolver."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from cost.directives import list_size
from resolvers import assets as asset_resolvers
from resolvers import chains as chain_resolvers
from resolvers.instant import resolve_instant
from resolvers.nodes import node as resolve_node
from schema.assets import (
    Asset,
    AssetConnection,
    AssetFilter,
    AssetOrder,
    filter_args,
    order_args,
)
from schema.chains import Block, Chain
from schema.info import Info
from schema.node import Node
from storage.records import AssetRecord, BlockRecord, ChainRecord

AS_OF = (
    "Read values as they stood at this instant (latest observation at or before it, "
    "staleness measured against it). Applies to everything below this field. Must not be "
    "in the future; must carry a timezone."
)


@strawberry.type(description="The root of the unified crypto graph.")
class Query:
    @strawberry.field(
        description=(
            "One asset by canonical id, or by symbol when exactly one asset carries it "
            "(an ambiguous symbol is an AMBIGUOUS_SYMBOL error listing the candidate ids). "
            "Give exactly one of `id` and `symbol`."
        )
    )
    async def asset(
        self,
        info: Info,
        id: Annotated[
            str | None, strawberry.argument(description="Canonical id, e.g. bitcoin.")
        ] = None,
        symbol: Annotated[
            str | None, strawberry.argument(description="Ticker symbol, case-insensitive.")
        ] = None,
        as_of: Annotated[datetime | None, strawberry.argument(description=AS_OF)] = None,
    ) -> Asset | None:
        instant = resolve_instant(info.context, as_of)
        rec = await asset_resolvers.find_asset(info.context, id=id, symbol=symbol)
        return Asset(record=rec, instant=instant) if rec else None

    @strawberry.field(
        description="Assets, filtered and ordered, as a Relay connection.",
        directives=[list_size(slicing_arguments=["first"], sized_fields=["edges", "nodes"])],
    )
    async def assets(
        self,
        info: Info,
        first: Annotated[
            int,
            strawberry.argument(
                description=(
                    "Page size, 0 to the server's maximum (250 unless configured; more is "
                    "an error)."
                )
            ),
        ] = asset_resolvers.DEFAULT_FIRST,
        after: Annotated[
            str | None, strawberry.argument(description="Continue after this cursor.")
        ] = None,
        filter: Annotated[
            AssetFilter | None, strawberry.argument(description="Which assets.")
        ] = None,
        order_by: Annotated[
            AssetOrder | None,
            strawberry.argument(description="Ordering (default: market cap, largest first)."),
        ] = None,
        as_of: Annotated[datetime | None, strawberry.argument(description=AS_OF)] = None,
    ) -> AssetConnection:
        instant = resolve_instant(info.context, as_of)
        order, descending = order_args(order_by)
        query = asset_resolvers.list_query(
            info.context,
            instant,
            first=first,
            after=after,
            filters=filter_args(filter),
            order=order,
            descending=descending,
        )
        page = await asset_resolvers.asset_page(info.context, query)
        return AssetConnection.of(query, page, instant)

    @strawberry.field(
        description="Every chain the graph knows.", directives=[list_size(assumed_size=20)]
    )
    async def chains(
        self,
        info: Info,
        as_of: Annotated[datetime | None, strawberry.argument(description=AS_OF)] = None,
    ) -> list[Chain]:
        instant = resolve_instant(info.context, as_of)
        rows = await chain_resolvers.all_chains(info.context)
        return [Chain(record=r, instant=instant) for r in rows]

    @strawberry.field(description="One chain by slug (ethereum) or CAIP-2 id (eip155:1).")
    async def chain(
        self,
        info: Info,
        id: Annotated[str, strawberry.argument(description="Slug or CAIP-2 id.")],
        as_of: Annotated[datetime | None, strawberry.argument(description=AS_OF)] = None,
    ) -> Chain | None:
        instant = resolve_instant(info.context, as_of)
        rec = await chain_resolvers.chain(info.context, id)
        return Chain(record=rec, instant=instant) if rec else None

    @strawberry.field(description="Any object by its global id (Relay); null if it is gone.")
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> Node | None:
        instant = resolve_instant(info.context, None)
        rec = await resolve_node(info.context, id)
        if isinstance(rec, AssetRecord):
            return Asset(record=rec, instant=instant)
        if isinstance(rec, ChainRecord):
            return Chain(record=rec, instant=instant)
        if isinstance(rec, BlockRecord):
            return Block(record=rec)
        return None
