"""Periodic pruning of old quotes (candles and signals are kept).

The simulated market writes a quote per asset and venue every tick: with the
defaults (nine assets, three venues, one tick a second) that is ≈27 rows/s,
2.3 million a day. Prices read only each source's newest quote inside
``quote_max_age_seconds`` and history is served from candles, so simulated
quotes older than ``simulated_quote_hours`` (48 h by default) are deleted every
``every_seconds``. Real sources' quotes are kept unless ``real_quote_hours``
is set (the exchange streams add a few rows per market per second).

Each pass deletes in batches of ``batch`` rows, one short transaction each
(``storage.repositories.retention``), yielding to the event loop in between, so
ingest and readers are never blocked for long. A failed pass is logged and
retried on the next beat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from ingest.writer import Clock, utcnow
from sources.simulated import VENUES
from storage.engine import SessionFactory
from storage.repositories import retention as repo

log = logging.getLogger("cryptoql.ingest.retention")

SIMULATED_SOURCES: tuple[str, ...] = tuple(v.source for v in VENUES)


@dataclass(frozen=True, slots=True)
class RetentionOptions:
    """How long quotes are kept (hours; 0 keeps them for ever) and how often to prune."""

    simulated_quote_hours: float = 48.0
    real_quote_hours: float = 0.0
    every_seconds: float = 3600.0
    batch: int = 5000

    @property
    def enabled(self) -> bool:
        return self.simulated_quote_hours > 0 or self.real_quote_hours > 0


class RetentionFeed:
    """A runner feed: prune now, then every ``every_seconds``."""

    name = "retention"

    def __init__(
        self,
        sessions: SessionFactory,
        options: RetentionOptions,
        *,
        clock: Clock = utcnow,
        simulated_sources: Sequence[str] = SIMULATED_SOURCES,
    ) -> None:
        self.sessions = sessions
        self.options = options
        self.clock = clock
        self.simulated_sources = tuple(simulated_sources)
        self.deleted = 0
        self.passes = 0
        self.last_error: str | None = None

    async def _prune(self, hours: float, *, simulated: bool) -> int:
        before = self.clock() - timedelta(hours=hours)
        sources = self.simulated_sources if simulated else None
        exclude = () if simulated else self.simulated_sources
        total = 0
        while True:
            async with self.sessions() as session:
                n = await repo.prune_quotes(
                    session,
                    before=before,
                    sources=sources,
                    exclude_sources=exclude,
                    limit=self.options.batch,
                )
                await session.commit()
            total += n
            self.deleted += n
            if n < self.options.batch:
                return total
            await asyncio.sleep(0)  # let ingest and readers in between batches

    async def run_once(self) -> int:
        """One pass; returns the quotes deleted."""
        o = self.options
        total = 0
        if o.simulated_quote_hours > 0:
            total += await self._prune(o.simulated_quote_hours, simulated=True)
        if o.real_quote_hours > 0:
            total += await self._prune(o.real_quote_hours, simulated=False)
        self.passes += 1
        if total:
            log.info("pruned %d old quotes", total)
        return total

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
                self.last_error = None
            except (SQLAlchemyError, OSError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("quote retention pass failed: %s", self.last_error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.options.every_seconds)

    def stats(self) -> dict[str, object]:
        return {"deleted": self.deleted, "passes": self.passes, "last_error": self.last_error}


__all__ = ["SIMULATED_SOURCES", "RetentionFeed", "RetentionOptions"]
