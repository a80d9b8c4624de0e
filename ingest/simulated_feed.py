"""Feeds the simulated market into storage: registry, history, then live ticks.

On start it seeds the registry, then every tick (1 s by default) it writes
each venue's quote and the forming 1m candle, and fills history a chunk at a
time from the cursor until it is current, so the API shows live prices from
the first second while the history arrives behind them.

History older than ``minute_hours`` is written as direct 1h candles (cheap:
two weeks for nine assets and three venues is ~9k rows); the last
``minute_hours`` and everything live is 1m, rolled up to 5m/1h/1d. The split
is on an hour boundary so no 1h bucket is ever produced both ways. The
cursor (one per venue, all written in the same transaction as the candles
they cover) is the exclusive end of the filled range; after a restart the
feed continues from it, so nothing is lost or written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from ingest.candles import floor_time
from ingest.registry import simulated_registry, store_registry
from ingest.signals import SignalEngine
from ingest.writer import Cursor, Writer
from sources.records import CandleRecord, MarketQuote
from sources.simulated import SimulatedMarket
from storage.repositories import ingest as repo

log = logging.getLogger("cryptoql.ingest.simulated")

STREAM = "candles"
HOUR = timedelta(hours=1)


class SimulatedFeed:
    name = "simulated"

    def __init__(
        self,
        writer: Writer,
        market: SimulatedMarket,
        *,
        engine: SignalEngine | None = None,
        assets: Sequence[str] | None = None,
        tick_seconds: float = 1.0,
        history_days: int = 14,
        minute_hours: int = 2,
        chunk_hours: int = 48,
        chunk_minutes: int = 30,
    ) -> None:
        self.writer, self.market, self.engine = writer, market, engine
        known = {a.canonical_id for a in market.assets}
        self.assets = [a for a in (assets or sorted(known)) if a in known]
        self.tick_seconds = tick_seconds
        self.history = timedelta(days=history_days)
        self.minute_window = timedelta(hours=minute_hours)
        self.chunk_hours, self.chunk_minutes = chunk_hours, chunk_minutes
        self.asset_ids: dict[str, int] = {}
        self.ticks = 0
        self.caught_up = False
        self.filled_to: datetime | None = None

    async def seed(self) -> dict[str, int]:
        async with self.writer.sessions() as session:
            self.asset_ids = await store_registry(
                session, simulated_registry(self.market, self.assets)
            )
            await session.commit()
        self.writer.forget_identity()
        return self.asset_ids

    async def cursor(self) -> datetime | None:
        async with self.writer.sessions() as session:
            values = [await repo.get_cursor(session, v.source, STREAM) for v in self.market.venues]
        if any(v is None for v in values):
            return None
        return min(datetime.fromisoformat(v) for v in values if v is not None)

    def _candles(self, interval: str, start: datetime, end: datetime) -> list[CandleRecord]:
        return [
            c
            for venue in self.market.venues
            for asset in self.assets
            for c in self.market.candles(asset, venue, interval, start, end)
        ]

    def next_chunk(self, filled: datetime | None, now: datetime) -> tuple[str, datetime, datetime]:
        """``(interval, start, end)`` of the next history chunk; ``start == end`` when current."""
        end_1m = floor_time(now, "1m")
        floor = floor_time(now - self.history, "1d")
        start = max(filled or floor, floor)
        split = floor_time(now, "1h") - self.minute_window
        if start >= end_1m:
            return "1m", end_1m, end_1m
        if start < split:
            if start != floor_time(start, "1h"):
                return "1m", start, min(floor_time(start, "1h") + HOUR, end_1m)
            return "1h", start, min(start + self.chunk_hours * HOUR, split)
        return "1m", start, min(start + timedelta(minutes=self.chunk_minutes), end_1m)

    async def fill(self, now: datetime) -> bool:
        """Write the next history chunk with its cursor; ``False`` when already current."""
        if self.filled_to is None:
            self.filled_to = await self.cursor()
        interval, start, end = self.next_chunk(self.filled_to, now)
        if start >= end:
            return False
        cursors = [Cursor(v.source, STREAM, end.isoformat()) for v in self.market.venues]
        live = interval == "1m" and end == floor_time(now, "1m")
        await self.writer.write(
            candles=self._candles(interval, start, end), cursors=cursors, publish=live
        )
        self.filled_to = end
        return True

    async def tick(self, now: datetime) -> None:
        """Every venue's quote at ``now`` and its forming 1m candle."""
        minute = floor_time(now, "1m")
        quotes: list[MarketQuote] = []
        candles: list[CandleRecord] = []
        for venue in self.market.venues:
            for asset in self.assets:
                quotes.append(self.market.quote(asset, venue, now))
                candles.append(self.market.candle(asset, venue, "1m", minute, now))
        await self.writer.write(quotes=quotes, candles=candles)
        self.ticks += 1

    async def step(self, now: datetime, budget: float) -> None:
        """One tick plus as much history as fits in ``budget`` seconds, then signals."""
        await self.tick(now)
        deadline = time.monotonic() + budget
        wrote = False
        while time.monotonic() < deadline and await self.fill(now):
            wrote = True
        current = self.filled_to is not None and self.filled_to >= floor_time(now, "1m")
        if current and wrote and self.engine is not None:
            await self.engine.update(self.asset_ids.values())
        if current and not self.caught_up:
            self.caught_up = True
            log.info("simulated market history is current", extra={"assets": len(self.assets)})

    async def run(self, stop: asyncio.Event) -> None:
        await self.seed()
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not stop.is_set():
            await self.step(self.writer.clock(), budget=self.tick_seconds * 0.6)
            next_at = max(next_at + self.tick_seconds, loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=next_at - loop.time())


__all__ = ["SimulatedFeed"]
