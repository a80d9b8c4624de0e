"""Asset resolvers: lookup by canonical id or symbol, and the paged asset list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from resolvers.context import Context
from resolvers.errors import AmbiguousSymbol, BadUserInput
from resolvers.instant import Instant
from resolvers.paging import bounded_first, decode_cursor, encode_cursor
from storage.records import AssetListQuery, AssetPage, AssetPageRow, AssetRecord
from storage.repositories.assets import ORDERS

DEFAULT_FIRST = 50
MAX_FILTER_VALUES = 1000


async def asset_by_canonical_id(ctx: Context, canonical_id: str) -> AssetRecord | None:
    return await ctx.loaders.asset_by_canonical_id.load(canonical_id)


async def asset_by_id(ctx: Context, asset_id: int | None) -> AssetRecord | None:
    if asset_id is None:
        return None
    return await ctx.loaders.asset_by_id.load(asset_id)


async def find_asset(ctx: Context, *, id: str | None, symbol: str | None) -> AssetRecord | None:
    """By canonical id, or by a symbol only when exactly one asset carries it.

    An ambiguous symbol is an ``AMBIGUOUS_SYMBOL`` error listing the candidate
    canonical ids: guessing (say, by market cap) would silently return the
    wrong coin for whoever meant the other one.
    """
    if (id is None) == (symbol is None):
        raise BadUserInput("asset: give exactly one of `id` or `symbol`")
    if id is not None:
        return await asset_by_canonical_id(ctx, id)
    assert symbol is not None
    if not symbol.strip():
        raise BadUserInput("asset: `symbol` is empty", extensions={"argument": "symbol"})
    matches = await ctx.loaders.assets_by_symbol.load(symbol.strip().upper())
    if len(matches) > 1:
        raise AmbiguousSymbol(symbol, sorted(m.canonical_id for m in matches))
    return matches[0] if matches else None


@dataclass(frozen=True, slots=True)
class AssetFilterArgs:
    ids: Sequence[str] | None = None
    symbols: Sequence[str] | None = None
    kind: str | None = None
    category: str | None = None
    min_market_cap: Decimal | None = None


def _values(name: str, values: Sequence[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if len(values) > MAX_FILTER_VALUES:
        raise BadUserInput(
            f"filter.{name} accepts at most {MAX_FILTER_VALUES} values",
            extensions={"argument": f"filter.{name}", "maximum": MAX_FILTER_VALUES},
        )
    return tuple(sorted(set(values)))


def _cursor_kind(order: str, descending: bool) -> str:
    return f"assets:{order}:{'desc' if descending else 'asc'}"


def list_query(
    ctx: Context,
    instant: Instant,
    *,
    first: int,
    after: str | None,
    filters: AssetFilterArgs | None,
    order: str,
    descending: bool,
) -> AssetListQuery:
    """Validate the list arguments and build the repository query."""
    limit = bounded_first(first, maximum=ctx.graph.max_page_size)
    if order not in ORDERS:
        raise BadUserInput(f"unknown order {order!r}", extensions={"argument": "orderBy"})
    f = filters or AssetFilterArgs()
    cursor: tuple[float | None, int] | None = None
    if after is not None:
        payload = decode_cursor(after, _cursor_kind(order, descending))
        value, last_id = [*payload, None, None][:2]
        if not isinstance(last_id, int) or not (value is None or isinstance(value, int | float)):
            raise BadUserInput("after: not a cursor returned by this API")
        cursor = (None if value is None else float(value), last_id)
    if f.min_market_cap is not None and not f.min_market_cap.is_finite():
        raise BadUserInput("filter.minMarketCap must be a finite number")
    cfg = ctx.graph
    return AssetListQuery(
        canonical_ids=_values("ids", f.ids),
        symbols=_values("symbols", f.symbols),
        kind=f.kind,
        category=f.category,
        min_market_cap=f.min_market_cap,
        order=order,
        descending=descending,
        after=cursor,
        limit=limit,
        at=instant.at,
        quote_since=instant.minus(cfg.quote_max_age_seconds),
        signal_since=instant.minus(cfg.signal_max_age_seconds),
    )


async def asset_page(ctx: Context, query: AssetListQuery) -> AssetPage:
    if query.limit == 0:
        return AssetPage(rows=(), has_next=False)
    return await ctx.loaders.asset_page.load(query)


async def asset_count(ctx: Context, query: AssetListQuery) -> int:
    # Ordering, cursor and page size do not change the count: normalise them
    # so the count never joins a sort figure it does not need.
    key = replace(query, order="RANK", descending=False, after=None, limit=0)
    return await ctx.loaders.asset_count.load(key)


def cursor_of(query: AssetListQuery, row: AssetPageRow) -> str:
    return encode_cursor(
        _cursor_kind(query.order, query.descending), [row.sort_value, row.asset.id]
    )
