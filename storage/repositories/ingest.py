"""Ingest writes: idempotent upserts, source cursors, and the reads ingest needs.

Every write is ``INSERT … ON CONFLICT (natural key) DO UPDATE`` (or ``DO
NOTHING`` for pure link rows), built with the dialect's own ``insert`` so the
same call runs on SQLite and PostgreSQL. Writing a row twice therefore leaves
one row with the latest values, which is what makes a crashed ingest safe to
re-run: whatever it had not committed is simply written again.

These functions never commit. The caller owns the unit of work and commits
once, with the source cursor (:func:`set_cursor`) in the same transaction as
the rows it describes, so after a ``kill -9`` the cursor never points past data
that was lost, nor behind data that would then be duplicated.

Rows arrive as frozen dataclasses (storage is a leaf layer and knows nothing of
the source adapters' record types): the records of :mod:`storage.records`
where a table's columns are exactly a record's fields (chains, contracts,
signals), and the write-only rows below where they are not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Asset,
    AssetAlias,
    AssetCategory,
    Base,
    Candle,
    Chain,
    Market,
    Quote,
    SignalValue,
    SourceCursor,
    TokenContract,
)
from storage.records import ChainRecord, ContractRecord, SignalRecord, row_values

#: Rows per statement. Keeps PostgreSQL's 32767 bind-parameter limit (and
#: SQLite's) out of reach for the widest table (quotes: 14 columns).
CHUNK_ROWS = 1000


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class AssetRow:
    canonical_id: str
    symbol: str
    name: str
    kind: str = "coin"
    rank: int | None = None
    native_chain_id: str | None = None


@dataclass(frozen=True, slots=True)
class AliasRow:
    asset_id: int
    source: str
    external_id: str


@dataclass(frozen=True, slots=True)
class MarketRow:
    source: str
    symbol: str
    base_asset_id: int
    quote_currency: str


@dataclass(frozen=True, slots=True)
class QuoteRow:
    source: str
    asset_id: int
    quote_currency: str
    price: Decimal
    observed_at: datetime
    volume_24h: Decimal | None = None
    market_cap: Decimal | None = None
    change_1h: Decimal | None = None
    change_24h: Decimal | None = None
    change_7d: Decimal | None = None
    circulating_supply: Decimal | None = None
    total_supply: Decimal | None = None
    max_supply: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CandleRow:
    source: str
    asset_id: int
    quote_currency: str
    interval: str
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None = None
    is_complete: bool = True

    @property
    def key(self) -> tuple[str, int, str, str, datetime]:
        return (self.source, self.asset_id, self.quote_currency, self.interval, self.open_time)


# --------------------------------------------------------------------------- generic upsert


def insert_for(session: AsyncSession, table: Table | type[Base]) -> Any:
    """The dialect's own ``INSERT`` (the one with ``ON CONFLICT``) for ``table``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for dialect {dialect!r}")


async def upsert(
    session: AsyncSession,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
    keep_complete: bool = False,
) -> int:
    """Insert ``rows`` into ``table``; on a ``key`` conflict update ``update`` columns.

    ``update=None`` updates every non-key column; ``update=()`` means
    ``DO NOTHING``. Rows repeating a key within one call are collapsed to the
    last one (PostgreSQL refuses to touch a row twice in one statement).
    ``keep_complete`` (candles) never lets an incomplete row overwrite a
    complete one, so a late partial update cannot undo a closed candle.
    Returns the number of distinct rows sent.
    """
    unique: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for row in rows:
        unique[tuple(row[k] for k in key)] = row
    if not unique:
        return 0
    values = list(unique.values())
    columns = list(values[0].keys())
    set_cols = [c for c in columns if c not in key] if update is None else list(update)
    stmt = insert_for(session, table)
    if set_cols:
        where = ~and_(table.c.is_complete, ~stmt.excluded.is_complete) if keep_complete else None
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={c: stmt.excluded[c] for c in set_cols},
            where=where,
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
    # One statement, many parameter sets: compiled once (and cached), sent as an
    # executemany, which both drivers batch.
    for start in range(0, len(values), CHUNK_ROWS):
        await session.execute(stmt, values[start : start + CHUNK_ROWS])
    return len(values)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


# --------------------------------------------------------------------------- identity


async def upsert_assets(session: AsyncSession, rows: Sequence[AssetRow]) -> dict[str, int]:
    """Upsert assets by canonical id and return ``{canonical_id: id}`` for them.

    A ``None`` rank or native chain never erases a value another source set.
    """
    if not rows:
        return {}
    table = _table(Asset)
    unique = {r.canonical_id: row_values(r) for r in rows}
    for start in range(0, len(unique), CHUNK_ROWS):
        chunk = list(unique.values())[start : start + CHUNK_ROWS]
        stmt = insert_for(session, table).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=["canonical_id"],
            set_={
                "symbol": stmt.excluded.symbol,
                "name": stmt.excluded.name,
                "kind": stmt.excluded.kind,
                "rank": func.coalesce(stmt.excluded.rank, table.c.rank),
                "native_chain_id": func.coalesce(
                    stmt.excluded.native_chain_id, table.c.native_chain_id
                ),
            },
        )
        await session.execute(stmt)
    return await asset_ids_by_canonical(session, list(unique))


async def asset_ids_by_canonical(
    session: AsyncSession, canonical_ids: Sequence[str]
) -> dict[str, int]:
    """``{canonical_id: id}`` for the ids that exist."""
    out: dict[str, int] = {}
    ids = list(dict.fromkeys(canonical_ids))
    for start in range(0, len(ids), CHUNK_ROWS):
        stmt = select(Asset.canonical_id, Asset.id).where(
            Asset.canonical_id.in_(ids[start : start + CHUNK_ROWS])
        )
        out.update(dict((await session.execute(stmt)).all()))
    return out


async def canonical_ids(session: AsyncSession, asset_ids: Sequence[int]) -> dict[int, str]:
    """``{id: canonical_id}`` for the asset ids that exist."""
    if not asset_ids:
        return {}
    stmt = select(Asset.id, Asset.canonical_id).where(Asset.id.in_(list(set(asset_ids))))
    return dict((await session.execute(stmt)).all())


async def asset_ids_by_alias(
    session: AsyncSession, source: str, external_ids: Sequence[str]
) -> dict[str, int]:
    """``{external_id: asset id}`` for a source's own ids (never matched on symbol)."""
    if not external_ids:
        return {}
    stmt = select(AssetAlias.external_id, AssetAlias.asset_id).where(
        AssetAlias.source == source, AssetAlias.external_id.in_(list(set(external_ids)))
    )
    return dict((await session.execute(stmt)).all())


async def markets_by_symbol(
    session: AsyncSession, source: str, symbols: Sequence[str]
) -> dict[str, tuple[int, str]]:
    """``{market symbol: (base asset id, quote currency)}`` for one exchange."""
    if not symbols:
        return {}
    stmt = select(Market.symbol, Market.base_asset_id, Market.quote_currency).where(
        Market.source == source, Market.symbol.in_(list(set(symbols)))
    )
    return {sym: (aid, quote) for sym, aid, quote in (await session.execute(stmt)).all()}


async def markets_for_assets(
    session: AsyncSession, source: str, asset_ids: Sequence[int]
) -> dict[int, list[tuple[str, str]]]:
    """``{asset id: [(market symbol, quote currency), …]}`` of one exchange, sorted."""
    if not asset_ids:
        return {}
    stmt = (
        select(Market.base_asset_id, Market.symbol, Market.quote_currency)
        .where(Market.source == source, Market.base_asset_id.in_(list(set(asset_ids))))
        .order_by(Market.base_asset_id, Market.symbol)
    )
    out: dict[int, list[tuple[str, str]]] = {}
    for aid, symbol, quote in (await session.execute(stmt)).all():
        out.setdefault(aid, []).append((symbol, quote))
    return out


async def upsert_aliases(session: AsyncSession, rows: Sequence[AliasRow]) -> int:
    return await upsert(
        session, _table(AssetAlias), map(row_values, rows), key=("source", "external_id")
    )


async def upsert_markets(session: AsyncSession, rows: Sequence[MarketRow]) -> int:
    return await upsert(session, _table(Market), map(row_values, rows), key=("source", "symbol"))


async def upsert_chains(session: AsyncSession, rows: Sequence[ChainRecord]) -> int:
    return await upsert(session, _table(Chain), map(row_values, rows), key=("id",))


async def upsert_contracts(session: AsyncSession, rows: Sequence[ContractRecord]) -> int:
    params = ({**row_values(r), "address": r.address.lower()} for r in rows)
    return await upsert(session, _table(TokenContract), params, key=("chain_id", "address"))


async def upsert_categories(session: AsyncSession, rows: Iterable[tuple[int, str]]) -> int:
    """Link assets to categories (``(asset_id, category)``); existing links are kept."""
    params = ({"asset_id": aid, "category": cat} for aid, cat in rows)
    return await upsert(
        session, _table(AssetCategory), params, key=("asset_id", "category"), update=()
    )


# --------------------------------------------------------------------------- market data


QUOTE_KEY = ("source", "asset_id", "quote_currency", "observed_at")
CANDLE_KEY = ("source", "asset_id", "quote_currency", "interval", "open_time")
SIGNAL_KEY = ("source", "asset_id", "kind", "computed_at")


async def upsert_quotes(session: AsyncSession, rows: Sequence[QuoteRow]) -> int:
    return await upsert(session, _table(Quote), map(row_values, rows), key=QUOTE_KEY)


async def upsert_candles(session: AsyncSession, rows: Sequence[CandleRow]) -> int:
    return await upsert(
        session, _table(Candle), map(row_values, rows), key=CANDLE_KEY, keep_complete=True
    )


async def upsert_signals(session: AsyncSession, rows: Sequence[SignalRecord]) -> int:
    return await upsert(session, _table(SignalValue), map(row_values, rows), key=SIGNAL_KEY)


# --------------------------------------------------------------------------- cursors


async def get_cursor(session: AsyncSession, source: str, stream: str) -> str | None:
    stmt = select(SourceCursor.cursor).where(
        SourceCursor.source == source, SourceCursor.stream == stream
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def set_cursor(
    session: AsyncSession, source: str, stream: str, cursor: str, now: datetime
) -> None:
    """Record where ``stream`` stopped; commit it with the rows it covers."""
    await upsert(
        session,
        _table(SourceCursor),
        [{"source": source, "stream": stream, "cursor": cursor, "updated_at": now}],
        key=("source", "stream"),
    )


# --------------------------------------------------------------------------- reads for ingest


_CANDLE_COLUMNS = (
    Candle.source,
    Candle.asset_id,
    Candle.quote_currency,
    Candle.interval,
    Candle.open_time,
    Candle.open,
    Candle.high,
    Candle.low,
    Candle.close,
    Candle.volume,
    Candle.is_complete,
)


async def candles_between(
    session: AsyncSession,
    *,
    source: str,
    quote_currency: str,
    interval: str,
    asset_ids: Sequence[int],
    start: datetime,
    end: datetime,
) -> list[CandleRow]:
    """Candles with ``start <= open_time < end``, ordered by asset then time (rollup input)."""
    if not asset_ids:
        return []
    stmt = (
        select(*_CANDLE_COLUMNS)
        .where(
            Candle.source == source,
            Candle.quote_currency == quote_currency,
            Candle.interval == interval,
            Candle.asset_id.in_(list(set(asset_ids))),
            Candle.open_time >= start,
            Candle.open_time < end,
        )
        .order_by(Candle.asset_id, Candle.open_time)
    )
    return [CandleRow(*row) for row in (await session.execute(stmt)).all()]


async def latest_candles(
    session: AsyncSession,
    *,
    source: str,
    asset_id: int,
    quote_currency: str,
    interval: str,
    limit: int,
    after: datetime | None = None,
) -> list[CandleRow]:
    """The newest ``limit`` complete candles (only those after ``after`` if given), oldest first."""
    stmt = select(*_CANDLE_COLUMNS).where(
        Candle.source == source,
        Candle.asset_id == asset_id,
        Candle.quote_currency == quote_currency,
        Candle.interval == interval,
        Candle.is_complete.is_(True),
    )
    if after is not None:
        stmt = stmt.where(Candle.open_time > after)
    stmt = stmt.order_by(Candle.open_time.desc()).limit(limit)
    rows = [CandleRow(*row) for row in (await session.execute(stmt)).all()]
    rows.reverse()
    return rows


async def candle_sources(
    session: AsyncSession, *, asset_ids: Sequence[int], interval: str
) -> dict[int, set[tuple[str, str]]]:
    """Which ``(source, quote currency)`` pairs have candles of ``interval`` per asset."""
    if not asset_ids:
        return {}
    stmt = (
        select(Candle.asset_id, Candle.source, Candle.quote_currency)
        .where(Candle.asset_id.in_(list(set(asset_ids))), Candle.interval == interval)
        .distinct()
    )
    out: dict[int, set[tuple[str, str]]] = {}
    for aid, source, quote in (await session.execute(stmt)).all():
        out.setdefault(aid, set()).add((source, quote))
    return out
