""" "Latest row per group at an instant", by index seeks instead of ranking windows.

The obvious portable query, ``ROW_NUMBER() OVER (PARTITION BY group ORDER BY
time DESC)`` over ``(since, at]``, costs one row visit per stored
observation in the window. Ingestion writes a quote per source every second
or so (the simulated market and the exchange streams do), so a 15-minute
window ranks thousands of rows per asset on every request.

Here the cost is one index seek per group instead, independent of how often
rows are written:

1. the groups are enumerated with a *loose index scan*: a recursive CTE that
   jumps from one distinct key to the next with ``SELECT MIN(k) … WHERE k >
   previous`` (one seek per distinct key; the PostgreSQL wiki's "loose
   indexscan" recipe, which SQLite runs the same way);
2. each group's newest row in ``(since, at]`` is an ``ORDER BY time DESC
   LIMIT 1`` scalar subquery (one backward seek on the same index).

``at`` and ``since`` may be values or bind parameters: the repositories
build these statements once, with bind parameters, because constructing
them (table aliases, recursive CTEs) costs more Python time than running
them on a warm database.

Two PostgreSQL specifics, handled by :class:`PerDialect`:

* the planner assumes each recursion step multiplies rows by ten, so the
  estimated cost of these small queries passes ``jit_above_cost`` and LLVM
  compilation takes seconds for a query that runs in milliseconds: the
  statements run after ``SET LOCAL jit = off`` (this transaction only);
* with those inflated estimates, ``id IN (subquery)`` becomes a hash join
  over a sequential scan of the whole table; ``id = ANY(ARRAY(subquery))``
  evaluates the ids once and fetches them through the primary key.

The statements only use existing indexes: ``uq_quotes_source`` (source,
asset_id, quote_currency, observed_at), ``ix_signals_lookup`` (asset_id,
kind, computed_at) and ``ix_chain_metrics_lookup`` (chain_id, kind, ts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Executable,
    FromClause,
    Result,
    Select,
    any_,
    func,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Asset, Quote

IdFilter: TypeAlias = Callable[[Any, Select[Any]], ColumnElement[bool]]
_NO_JIT = text("SET LOCAL jit = off")


def _in_subquery(column: Any, ids: Select[Any]) -> ColumnElement[bool]:
    return column.in_(ids)  # type: ignore[no-any-return]


def _in_array(column: Any, ids: Select[Any]) -> ColumnElement[bool]:
    return column == any_(func.array(ids.scalar_subquery()))  # type: ignore[no-any-return]


class PerDialect:
    """A statement built once per backend from ``build(id_filter)``; see the module docstring."""

    def __init__(self, build: Callable[[IdFilter], Any]) -> None:
        self.generic: Executable = build(_in_subquery)
        self.postgresql: Executable = build(_in_array)

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> Sequence[Any]:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(_NO_JIT)
            result: Result[Any] = await session.execute(self.postgresql, dict(params))
        else:
            result = await session.execute(self.generic, dict(params))
        return result.all()


def _smallest(column: Any, *where: ColumnElement[bool]) -> Any:
    """``(SELECT column … ORDER BY column LIMIT 1)``: a single index seek.

    Written out rather than ``MIN(column)`` because SQLite applies its min/max
    shortcut only without WHERE terms; with them it would read every index
    entry of the group.
    """
    return select(column).where(*where).order_by(column).limit(1).scalar_subquery()


def latest_by_key_scan(
    table: FromClause,
    *,
    anchors: Select[Any],
    key: str,
    scan: str,
    time: str,
    at: Any,
    since: Any,
) -> Select[Any]:
    """Ids of the newest row per (``key``, ``scan``) with ``since < time <= at``.

    ``anchors`` yields one column of ``key`` values (e.g. the asked-for asset
    ids); the distinct ``scan`` values (signal kinds, metric kinds) of each
    anchor are enumerated by a loose index scan over an index on
    (``key``, ``scan``, ``time``).
    """
    a = anchors.subquery("anchors")
    first = table.alias("ls_first")
    seed = select(
        a.c[0].label("k"),
        _smallest(first.c[scan], first.c[key] == a.c[0]).label("v"),
    )
    groups = seed.cte("ls_groups", recursive=True)
    step_t = table.alias("ls_step")
    step = select(
        groups.c.k,
        _smallest(step_t.c[scan], step_t.c[key] == groups.c.k, step_t.c[scan] > groups.c.v),
    ).where(groups.c.v.is_not(None))
    groups = groups.union_all(step)
    newest_t = table.alias("ls_newest")
    newest = (
        select(newest_t.c.id)
        .where(
            newest_t.c[key] == groups.c.k,
            newest_t.c[scan] == groups.c.v,
            newest_t.c[time] <= at,
            newest_t.c[time] > since,
        )
        .order_by(newest_t.c[time].desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(newest).select_from(groups).where(groups.c.v.is_not(None))


def latest_quote_ids(asset_filter: ColumnElement[bool], *, at: Any, since: Any) -> Select[Any]:
    """Ids of each (source, asset, currency)'s newest quote in ``(since, at]``.

    ``asset_filter`` selects the assets (a condition on ``Asset``). Sources
    are enumerated globally (few, one seek each), then the currencies each
    source quotes an asset in, then the newest quote of each triple.
    """
    q = Quote.__table__
    s0 = q.alias("lq_src0")
    s1 = q.alias("lq_src1")
    sources = select(_smallest(s0.c.source).label("src")).cte("lq_sources", recursive=True)
    sources = sources.union_all(
        select(_smallest(s1.c.source, s1.c.source > sources.c.src)).where(
            sources.c.src.is_not(None)
        )
    )
    c0 = q.alias("lq_cur0")
    c1 = q.alias("lq_cur1")
    currencies = (
        select(
            sources.c.src.label("src"),
            Asset.id.label("aid"),
            _smallest(
                c0.c.quote_currency, c0.c.source == sources.c.src, c0.c.asset_id == Asset.id
            ).label("cur"),
        )
        .select_from(sources)
        .join(Asset, true())
        .where(sources.c.src.is_not(None), asset_filter)
        .cte("lq_currencies", recursive=True)
    )
    currencies = currencies.union_all(
        select(
            currencies.c.src,
            currencies.c.aid,
            _smallest(
                c1.c.quote_currency,
                c1.c.source == currencies.c.src,
                c1.c.asset_id == currencies.c.aid,
                c1.c.quote_currency > currencies.c.cur,
            ),
        ).where(currencies.c.cur.is_not(None))
    )
    n = q.alias("lq_newest")
    newest = (
        select(n.c.id)
        .where(
            n.c.source == currencies.c.src,
            n.c.asset_id == currencies.c.aid,
            n.c.quote_currency == currencies.c.cur,
            n.c.observed_at <= at,
            n.c.observed_at > since,
        )
        .order_by(n.c.observed_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(newest).select_from(currencies).where(currencies.c.cur.is_not(None))


def ids_in(ids: Sequence[int]) -> ColumnElement[bool]:
    return Asset.id.in_(list(ids))
