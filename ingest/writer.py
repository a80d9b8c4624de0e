"""The one write path from source records to storage (and then to the broker).

:meth:`Writer.write` takes a batch of source records and, in **one
transaction**: maps each record to its canonical asset (through the stored
market and alias tables, never by ticker), drops and counts records the guard
rejects, upserts quotes and candles, recomputes the rollups those candles
touch, and records the source cursors. Only after the commit does it publish
ticks and bump data versions. A crash at any point therefore leaves either
the whole batch with its cursor, or none of it, and re-running the batch is
harmless because every write is an upsert.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ingest.candles import affected_buckets, rollup, rollup_chain, seconds
from ingest.guard import candle_problem, quote_problem
from ingest.publish import Publisher
from sources.records import CandleRecord, MarketQuote
from storage.engine import SessionFactory
from storage.repositories import ingest as repo
from storage.repositories.ingest import CandleRow, QuoteRow

log = logging.getLogger("cryptoql.ingest.writer")

Clock = Callable[[], datetime]


class _SourceRecord(Protocol):
    """What the writer needs of a source record to guard and map it."""

    @property
    def source(self) -> str: ...
    @property
    def source_id(self) -> str: ...
    @property
    def quote_currency(self) -> str | None: ...


RecordT = TypeVar("RecordT", bound=_SourceRecord)
RowT = TypeVar("RowT")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a stream stopped: committed in the same transaction as its rows."""

    source: str
    stream: str
    value: str


@dataclass
class IngestStats:
    """Process-wide counters (exposed by the runner's status and the metrics route)."""

    rows: Counter[str] = field(default_factory=Counter)
    rejected: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    unmapped: Counter[tuple[str, str]] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, Any]:
        return {
            "rows": dict(self.rows),
            "rejected": [
                {"source": s, "kind": k, "reason": r, "count": n}
                for (s, k, r), n in sorted(self.rejected.items())
            ],
            "unmapped": [
                {"source": s, "kind": k, "count": n} for (s, k), n in sorted(self.unmapped.items())
            ],
        }


@dataclass
class WriteResult:
    quotes: list[tuple[str, QuoteRow]] = field(default_factory=list)
    candles: list[tuple[str, CandleRow]] = field(default_factory=list)
    rollups: int = 0
    rejected: int = 0
    unmapped: int = 0

    @property
    def written(self) -> int:
        return len(self.quotes) + len(self.candles)


class Writer:
    def __init__(
        self,
        sessions: SessionFactory,
        publisher: Publisher | None = None,
        *,
        stats: IngestStats | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.sessions = sessions
        self.publisher = publisher or Publisher(None)
        self.stats = stats or IngestStats()
        self.clock = clock
        # (source, source_id) -> (asset id, the market's quote currency or None)
        self._refs: dict[tuple[str, str], tuple[int, str | None]] = {}
        self._canonical: dict[int, str] = {}

    def forget_identity(self) -> None:
        """Drop cached mappings (after the registry changed)."""
        self._refs.clear()
        self._canonical.clear()

    # ------------------------------------------------------------------ mapping

    async def _resolve(self, session: AsyncSession, keys: set[tuple[str, str]]) -> None:
        missing: dict[str, list[str]] = {}
        for source, source_id in keys - self._refs.keys():
            missing.setdefault(source, []).append(source_id)
        for source, ids in missing.items():
            for symbol, (asset_id, quote) in (
                await repo.markets_by_symbol(session, source, ids)
            ).items():
                self._refs[(source, symbol)] = (asset_id, quote)
            rest = [i for i in ids if (source, i) not in self._refs]
            for ext, asset_id in (await repo.asset_ids_by_alias(session, source, rest)).items():
                self._refs[(source, ext)] = (asset_id, None)

    async def canonical(self, session: AsyncSession, asset_ids: set[int]) -> dict[int, str]:
        unknown = [a for a in asset_ids if a not in self._canonical]
        if unknown:
            self._canonical.update(await repo.canonical_ids(session, unknown))
        return {a: self._canonical[a] for a in asset_ids if a in self._canonical}

    def _ref(
        self, result: WriteResult, kind: str, source: str, source_id: str, quote: str | None
    ) -> tuple[int, str] | None:
        """The asset id and quote currency of a record, or ``None`` (counted) when unknown."""
        ref = self._refs.get((source, source_id))
        currency = quote or (ref[1] if ref else None)
        if ref is None or currency is None:
            self.stats.unmapped[(source, kind)] += 1
            result.unmapped += 1
            return None
        return ref[0], currency

    def _reject(self, result: WriteResult, source: str, kind: str, reason: str) -> None:
        self.stats.rejected[(source, kind, reason)] += 1
        result.rejected += 1

    # ------------------------------------------------------------------ records -> rows

    def _rows(
        self,
        result: WriteResult,
        kind: str,
        records: Sequence[RecordT],
        problem_of: Callable[[RecordT, datetime], str | None],
        to_row: Callable[[RecordT, int, str], RowT],
        now: datetime,
    ) -> list[RowT]:
        """Rows for the records the guard accepts and the identity tables map.

        A rejected record is counted under its reason, an unmapped one as
        unmapped (see :meth:`_ref`); neither stops the rest of the batch.
        """
        rows: list[RowT] = []
        for record in records:
            if problem := problem_of(record, now):
                self._reject(result, record.source, kind, problem)
                continue
            ref = self._ref(result, kind, record.source, record.source_id, record.quote_currency)
            if ref is not None:
                rows.append(to_row(record, *ref))
        return rows

    # ------------------------------------------------------------------ writing

    async def write(
        self,
        *,
        quotes: Sequence[MarketQuote] = (),
        candles: Sequence[CandleRecord] = (),
        cursors: Sequence[Cursor] = (),
        publish: bool = True,
    ) -> WriteResult:
        """Store one batch atomically with its cursors; publish after the commit."""
        now = self.clock()
        result = WriteResult()
        async with self.sessions() as session:
            keys = {(q.source, q.source_id) for q in quotes}
            keys |= {(c.source, c.source_id) for c in candles}
            await self._resolve(session, keys)
            quote_rows = self._rows(result, "quote", quotes, quote_problem, _quote_row, now)
            candle_rows = self._rows(result, "candle", candles, candle_problem, _candle_row, now)
            rolled = await self.store(session, quote_rows, candle_rows)
            for cur in cursors:
                await repo.set_cursor(session, cur.source, cur.stream, cur.value, now)
            ids = {q.asset_id for q in quote_rows} | {c.asset_id for c in candle_rows}
            names = await self.canonical(session, ids)
            await session.commit()
        result.quotes = [(names[r.asset_id], r) for r in quote_rows]
        result.candles = [(names[r.asset_id], r) for r in (*candle_rows, *rolled)]
        result.rollups = len(rolled)
        await self.announce(result, live=publish)
        return result

    async def store(
        self, session: AsyncSession, quotes: Sequence[QuoteRow], candles: Sequence[CandleRow]
    ) -> list[CandleRow]:
        """Upsert validated rows and their rollups inside the caller's transaction."""
        if quotes:
            await repo.upsert_quotes(session, quotes)
            self.stats.rows["quotes"] += len(quotes)
        if not candles:
            return []
        await repo.upsert_candles(session, candles)
        self.stats.rows["candles"] += len(candles)
        rolled = await self._rollups(session, candles)
        self.stats.rows["rollups"] += len(rolled)
        return rolled

    async def _rollups(
        self, session: AsyncSession, candles: Sequence[CandleRow]
    ) -> list[CandleRow]:
        groups: dict[tuple[str, str, str], list[CandleRow]] = {}
        for c in candles:
            groups.setdefault((c.source, c.quote_currency, c.interval), []).append(c)
        out: list[CandleRow] = []
        for (source, currency, base), rows in groups.items():
            current = rows
            for child, target in rollup_chain(base):
                wanted = affected_buckets(current, target)
                starts = [t for buckets in wanted.values() for t in buckets]
                children = await repo.candles_between(
                    session,
                    source=source,
                    quote_currency=currency,
                    interval=child,
                    asset_ids=list(wanted),
                    start=min(starts),
                    end=max(starts) + timedelta(seconds=seconds(target)),
                )
                current = [
                    r
                    for r in rollup(children, child, target)
                    if r.open_time in wanted.get(r.asset_id, ())
                ]
                if not current:
                    break
                await repo.upsert_candles(session, current)
                out.extend(current)
        return out

    async def announce(self, result: WriteResult, *, live: bool) -> None:
        """After commit: ticks to subscribers (``live``) and data-version bumps."""
        if live:
            await self.publisher.quotes(result.quotes)
            await self.publisher.candles(result.candles)
        domains = []
        if result.quotes:
            domains.append("quotes")
        if result.candles:
            domains.append("candles")
        await self.publisher.bump(domains)


def _quote_row(q: MarketQuote, asset_id: int, currency: str) -> QuoteRow:
    return QuoteRow(
        source=q.source,
        asset_id=asset_id,
        quote_currency=currency,
        price=q.price,
        observed_at=q.observed_at,
        volume_24h=q.volume_24h,
        market_cap=q.market_cap,
        change_1h=q.change_1h,
        change_24h=q.change_24h,
        change_7d=q.change_7d,
        circulating_supply=q.circulating_supply,
        total_supply=q.total_supply,
        max_supply=q.max_supply,
    )


def _candle_row(c: CandleRecord, asset_id: int, currency: str) -> CandleRow:
    return CandleRow(
        source=c.source,
        asset_id=asset_id,
        quote_currency=currency,
        interval=c.interval,
        open_time=c.open_time,
        open=c.open,
        high=c.high,
        low=c.low,
        close=c.close,
        volume=c.volume,
        is_complete=c.is_complete,
    )


__all__ = ["Cursor", "IngestStats", "WriteResult", "Writer", "utcnow"]
