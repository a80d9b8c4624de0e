"""Asset reads: by id, canonical id, symbol, and the filtered, ordered asset list.

The list is paged by keyset (sort value, internal id), never by OFFSET, so a
deep page costs the same as the first and concurrent inserts cannot shift
items between pages. Sort figures that live in time series (market cap,
volume, 24 h change, trader grade) are "the latest observation at or before
the instant, within a bounded look-back", read by an index seek per asset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Asset, AssetCategory, Quote, SignalValue
from storage.records import AssetListQuery, AssetPage, AssetPageRow, AssetRecord
from storage.types import sortable

#: Sort keys the list understands; quote-backed keys read the USD quote.
QUOTE_ORDERS = {
    "MARKET_CAP": "market_cap",
    "VOLUME_24H": "volume_24h",
    "CHANGE_24H": "change_24h",
}
ORDERS = (*QUOTE_ORDERS, "GRADE", "RANK")
GRADE_KIND = "trader_grade"
SORT_QUOTE = "USD"


async def assets_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, AssetRecord]:
    rows = (await session.execute(select(Asset).where(Asset.id.in_(ids)))).scalars().all()
    return await _with_categories(session, rows)


async def assets_by_canonical_ids(
    session: AsyncSession, canonical_ids: Sequence[str]
) -> dict[str, AssetRecord]:
    rows = (
        (await session.execute(select(Asset).where(Asset.canonical_id.in_(canonical_ids))))
        .scalars()
        .all()
    )
    by_id = await _with_categories(session, rows)
    return {rec.canonical_id: rec for rec in by_id.values()}


async def assets_by_symbols(
    session: AsyncSession, symbols: Sequence[str]
) -> dict[str, list[AssetRecord]]:
    """Every asset whose symbol matches, case-insensitively; keyed by upper-case symbol."""
    wanted = sorted({s.upper() for s in symbols})
    stmt = select(Asset).where(func.upper(Asset.symbol).in_(wanted)).order_by(Asset.canonical_id)
    rows = (await session.execute(stmt)).scalars().all()
    by_id = await _with_categories(session, rows)
    out: dict[str, list[AssetRecord]] = defaultdict(list)
    for row in rows:
        out[row.symbol.upper()].append(by_id[row.id])
    return out


async def asset_page(session: AsyncSession, query: AssetListQuery) -> AssetPage:
    """One page of the asset list: ``limit`` rows after the cursor, plus whether more follow."""
    plan = _Plan(query)
    stmt = plan.apply(select(Asset, plan.key.label("sort_value")))
    if query.after is not None:
        stmt = stmt.where(plan.after(*query.after))
    stmt = stmt.order_by(*plan.ordering()).limit(query.limit + 1)
    result = (await session.execute(stmt)).all()
    has_next = len(result) > query.limit
    result = result[: query.limit]
    by_id = await _with_categories(session, [r[0] for r in result])
    rows = tuple(
        AssetPageRow(asset=by_id[asset.id], sort_value=None if value is None else float(value))
        for asset, value in result
    )
    return AssetPage(rows=rows, has_next=has_next)


async def asset_count(session: AsyncSession, query: AssetListQuery) -> int:
    """How many assets match the query's filters (ordering and cursor ignored)."""
    stmt = _Plan(query).apply(select(func.count(Asset.id)))
    return int((await session.execute(stmt)).scalar_one())


class _Plan:
    """The filters and sort key of one list query, built once.

    Each figure is a correlated ``ORDER BY time DESC LIMIT 1`` subquery: a
    backward seek per asset on ``ix_quotes_lookup`` / ``ix_signals_lookup``,
    whatever the number of stored observations. An asset with no figure in
    the look-back is still listed (sorted last); the market-cap floor filters
    on the same figure.
    """

    def __init__(self, query: AssetListQuery) -> None:
        self.query = query
        if query.order in QUOTE_ORDERS:
            self.key: ColumnElement[Any] = _quote_figure(QUOTE_ORDERS[query.order], query)
        elif query.order == "GRADE":
            self.key = _grade_figure(query)
        else:
            self.key = Asset.__table__.c.rank

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        return stmt.where(*self.filters())

    def filters(self) -> list[ColumnElement[bool]]:
        q = self.query
        out: list[ColumnElement[bool]] = []
        if q.canonical_ids is not None:
            out.append(Asset.canonical_id.in_(q.canonical_ids))
        if q.symbols is not None:
            out.append(func.upper(Asset.symbol).in_([s.upper() for s in q.symbols]))
        if q.kind is not None:
            out.append(Asset.kind == q.kind)
        if q.category is not None:
            cat = select(AssetCategory.asset_id).where(AssetCategory.category == q.category)
            out.append(Asset.id.in_(cat))
        if q.min_market_cap is not None:
            cap = _quote_figure("market_cap", q)
            out.append(cap >= float(q.min_market_cap))
        return out

    def ordering(self) -> list[Any]:
        direction = self.key.desc() if self.query.descending else self.key.asc()
        # NULLs (no figure within the look-back) sort last whatever the direction;
        # the internal id breaks ties so the order is total and stable.
        return [self.key.is_(None), direction, Asset.id]

    def after(self, value: float | None, last_id: int) -> ColumnElement[bool]:
        key = self.key
        if value is None:
            return and_(key.is_(None), Asset.id > last_id)
        beyond = key < value if self.query.descending else key > value
        return or_(beyond, and_(key == value, Asset.id > last_id), key.is_(None))


#: Built once: an alias is an immutable construct, and one built per request is a
#: reference cycle (its columns point back at it) left for the cyclic GC.
_FIGURE = Quote.__table__.alias("fig")
_GRADE = SignalValue.__table__.alias("grade")


def _quote_figure(column: str, query: AssetListQuery) -> ColumnElement[Any]:
    """Per asset: the latest non-null USD ``column`` observed in (quote_since, at]."""
    q = _FIGURE
    return (
        select(sortable(q.c[column]))
        .where(
            q.c.asset_id == Asset.id,
            q.c.quote_currency == SORT_QUOTE,
            q.c[column].is_not(None),
            q.c.observed_at <= query.at,
            q.c.observed_at > query.quote_since,
        )
        .order_by(q.c.observed_at.desc())
        .limit(1)
        .scalar_subquery()
    )


def _grade_figure(query: AssetListQuery) -> ColumnElement[Any]:
    s = _GRADE
    return (
        select(sortable(s.c.value))
        .where(
            s.c.asset_id == Asset.id,
            s.c.kind == GRADE_KIND,
            s.c.computed_at <= query.at,
            s.c.computed_at > query.signal_since,
        )
        .order_by(s.c.computed_at.desc())
        .limit(1)
        .scalar_subquery()
    )


async def _with_categories(session: AsyncSession, rows: Sequence[Asset]) -> dict[int, AssetRecord]:
    if not rows:
        return {}
    cats: dict[int, list[str]] = defaultdict(list)
    stmt = (
        select(AssetCategory.asset_id, AssetCategory.category)
        .where(AssetCategory.asset_id.in_([r.id for r in rows]))
        .order_by(AssetCategory.asset_id, AssetCategory.category)
    )
    for asset_id, category in (await session.execute(stmt)).all():
        cats[asset_id].append(category)
    return {
        r.id: AssetRecord(
            id=r.id,
            canonical_id=r.canonical_id,
            symbol=r.symbol,
            name=r.name,
            kind=r.kind,
            rank=r.rank,
            native_chain_id=r.native_chain_id,
            categories=tuple(cats.get(r.id, ())),
        )
        for r in rows
    }
