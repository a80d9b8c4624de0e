"""``cryptoql backfill``: historical candles for a range, resumable after any crash.

The range ``[start, end)`` of each (source, asset) is walked in chunks; every
chunk is written in one transaction together with its cursor, the open time
the next chunk starts at. The cursor's stream name includes the interval and
the requested range, so re-running the same command resumes where the last
run stopped (``kill -9`` included) and a different range starts afresh.
Rows are upserts and rollups are recomputed from stored children, so even a
chunk written twice leaves the same rows: after a crash and a restart, row
counts and values equal those of an uninterrupted run (the crash test checks
exactly that, on SQLite and PostgreSQL).

Fetchers: ``simulated`` (every simulated venue, or one as ``simulated:beta``),
``binance`` (klines) and ``coinbase`` (candles), the exchanges reading the
markets to follow from the stored registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ingest.candles import floor_time, seconds
from ingest.progress import Progress
from ingest.registry import simulated_registry, store_registry
from ingest.signals import SignalEngine
from ingest.writer import Cursor, Writer
from sources.binance import Binance
from sources.coinbase import Coinbase
from sources.records import CandleRecord
from sources.simulated import SimulatedMarket, SimVenue
from storage.repositories import ingest as repo


class Fetcher(Protocol):
    """Fetches the candles opening in ``[start, end)`` for one asset, one stream per source."""

    sources: tuple[str, ...]
    max_chunk: int

    async def fetch(
        self, source: str, asset: str, interval: str, start: datetime, end: datetime
    ) -> list[CandleRecord]: ...


class SimulatedFetcher:
    max_chunk = 1440

    def __init__(self, market: SimulatedMarket, venues: Sequence[SimVenue]) -> None:
        self.market = market
        self.venues = {v.source: v for v in venues}
        self.sources: tuple[str, ...] = tuple(self.venues)

    async def fetch(
        self, source: str, asset: str, interval: str, start: datetime, end: datetime
    ) -> list[CandleRecord]:
        return list(self.market.candles(asset, self.venues[source], interval, start, end))


class ExchangeFetcher:
    """Binance klines or Coinbase candles for the first stored USD-like market of an asset."""

    max_chunk = 300

    def __init__(self, adapter: Binance | Coinbase, markets: dict[str, str]) -> None:
        self.adapter = adapter
        self.markets = markets  # canonical id -> market symbol
        self.sources: tuple[str, ...] = (adapter.source,)

    async def fetch(
        self, source: str, asset: str, interval: str, start: datetime, end: datetime
    ) -> list[CandleRecord]:
        symbol = self.markets.get(asset)
        if symbol is None:
            return []
        if isinstance(self.adapter, Binance):
            batch = await self.adapter.klines(symbol, interval, start=start, limit=self.max_chunk)
        else:
            batch = await self.adapter.candles(symbol, interval, start, end)
        return [c for c in batch if start <= c.open_time < end]


@dataclass
class BackfillReport:
    candles: int = 0
    rollups: int = 0
    chunks: int = 0
    resumed: dict[str, str] = field(default_factory=dict)
    rejected: int = 0


def stream_name(asset: str, interval: str, start: datetime, end: datetime) -> str:
    return f"backfill:{asset}:{interval}:{start.isoformat()}/{end.isoformat()}"


async def seed_simulated(writer: Writer, market: SimulatedMarket, assets: Sequence[str]) -> None:
    async with writer.sessions() as session:
        await store_registry(session, simulated_registry(market, assets))
        await session.commit()
    writer.forget_identity()


async def backfill(
    writer: Writer,
    fetcher: Fetcher,
    *,
    assets: Sequence[str],
    interval: str,
    start: datetime,
    end: datetime,
    chunk: int = 360,
    engine: SignalEngine | None = None,
    progress: Callable[[int], Progress] | None = None,
) -> BackfillReport:
    """Fill ``[start, end)`` for every (source, asset); resumes from stored cursors."""
    step = timedelta(seconds=seconds(interval))
    start, end = floor_time(start, interval), end
    chunk = max(1, min(chunk, fetcher.max_chunk))
    report = BackfillReport()
    plan: list[tuple[str, str, datetime]] = []
    async with writer.sessions() as session:
        for source in fetcher.sources:
            for asset in assets:
                raw = await repo.get_cursor(
                    session, source, stream_name(asset, interval, start, end)
                )
                at = max(start, datetime.fromisoformat(raw)) if raw else start
                if raw:
                    report.resumed[f"{source}/{asset}"] = raw
                plan.append((source, asset, at))
    total = sum(max(0, -(-(end - at) // step)) for _, _, at in plan)
    bar = progress(total) if progress else None
    for source, asset, at in plan:
        stream = stream_name(asset, interval, start, end)
        while at < end:
            upto = min(end, at + chunk * step)
            candles = await fetcher.fetch(source, asset, interval, at, upto)
            result = await writer.write(
                candles=candles, cursors=[Cursor(source, stream, upto.isoformat())], publish=False
            )
            report.candles += len(candles) - result.rejected - result.unmapped
            report.rollups += result.rollups
            report.rejected += result.rejected
            report.chunks += 1
            if bar is not None:
                bar.advance(-(-(upto - at) // step), note=f"{source} {asset}")
            at = upto
    if bar is not None:
        bar.close()
    if engine is not None:
        async with writer.sessions() as session:
            ids = await repo.asset_ids_by_canonical(session, list(assets))
        await engine.update(ids.values(), publish=False)
    return report


__all__ = [
    "BackfillReport",
    "ExchangeFetcher",
    "Fetcher",
    "SimulatedFetcher",
    "backfill",
    "seed_simulated",
    "stream_name",
]
