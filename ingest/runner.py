"""The ingest runner: picks real or simulated sources, then keeps them flowing.

Used two ways: inside ``cryptoql serve`` (``app.ingest_component`` starts it as
a background task, so the server accepts requests at once) and as the
``cryptoql ingest`` worker for deployments that run them apart.

Mode ``auto`` (the default) probes the real public sources in the background
(:mod:`ingest.probe`, a few seconds at most) and runs those that answered. When
none answers it says so plainly in the log and runs the simulated market
instead, every value labelled ``source: simulated:*``, so an offline machine
still shows a live graph within seconds. ``real`` and ``simulated`` skip the
probe.

In real mode the feeds are: the REST feed (:mod:`ingest.real_feed`: identity,
quotes, candles), the live exchange streams of the reachable exchanges
(:mod:`ingest.live_feeds`), the Ethereum pump the app adds, and Token Metrics
when an API key is configured (:mod:`ingest.tokenmetrics_feed`). In both modes
the quote retention feed (:mod:`ingest.retention`) prunes old quotes.

A feed that crashes (a database hiccup, a bug) is logged and restarted after a
capped, growing pause; cancellation stops everything cleanly, and ``stop``
closes what the feeds own (HTTP clients, the JSON-RPC client).

:meth:`IngestRunner.source_health` merges every feed's per-source health
(:mod:`ingest.health`) for ``/readyz`` and ``/metrics``; :meth:`status` adds the
write counters (rows, rejects by reason, unmapped records, publish failures).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ingest.config import IngestConfig
from ingest.health import merge
from ingest.live_feeds import StreamOptions, stream_feeds
from ingest.probe import ProbeResult, probe
from ingest.publish import Publisher
from ingest.real_feed import RealFeed
from ingest.retention import RetentionFeed, RetentionOptions
from ingest.signals import SignalEngine
from ingest.simulated_feed import SimulatedFeed
from ingest.tokenmetrics_feed import TokenMetricsFeed, TokenMetricsOptions
from ingest.writer import Clock, IngestStats, Writer, utcnow
from pubsub.broker import Broker
from sources.base import Wiring
from sources.simulated import SimulatedMarket
from storage.engine import SessionFactory

log = logging.getLogger("cryptoql.ingest")

RESTART_BASE = 1.0
RESTART_CAP = 60.0


class Feed(Protocol):
    name: str

    async def run(self, stop: asyncio.Event) -> None: ...


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """The feeds beyond the REST sources and the simulated market (all optional)."""

    streams: StreamOptions | None = None
    tokenmetrics: TokenMetricsOptions | None = None
    retention: RetentionOptions | None = None
    #: Resolve exchange codes through CoinGecko's tickers (docs/ingest.md).
    identity_bridge: bool = True


class IngestRunner:
    def __init__(
        self,
        config: IngestConfig,
        sessions: SessionFactory,
        broker: Broker | None = None,
        *,
        wiring: Wiring | None = None,
        probe_transport: Any = None,
        clock: Clock = utcnow,
        extra_feeds: Callable[[str, list[str]], list[Any]] | None = None,
        live: LiveOptions | None = None,
    ) -> None:
        self.config = config
        self.live = live or LiveOptions()
        self.clock = clock
        self.sessions = sessions
        self.publisher = Publisher(broker)
        self.stats = IngestStats()
        self.writer = Writer(sessions, self.publisher, stats=self.stats, clock=clock)
        self.engine = SignalEngine(
            sessions,
            self.publisher,
            intervals=config.signals.intervals,
            source_priority=config.signals.source_priority,
            window=config.signals.window,
        )
        self.wiring = wiring
        self.extra_feeds = extra_feeds
        self.probe_transport = probe_transport
        self.mode: str | None = None
        self.probes: list[ProbeResult] = []
        self.feeds: list[Any] = []
        self.restarts: dict[str, int] = {}
        self.crashes: dict[str, str] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ choosing sources

    async def choose(self) -> list[str]:
        """Decide the mode; returns the reachable real sources (empty for simulated)."""
        if self.config.mode == "simulated":
            self.mode = "simulated"
            return []
        if self.config.mode == "real":
            self.mode = "real"
            return list(self.config.real.enabled)
        self.probes = await probe(
            self.config.real, limit=self.config.probe_timeout, transport=self.probe_transport
        )
        reachable = [p.source for p in self.probes if p.ok]
        if reachable:
            self.mode = "real"
            log.info("ingesting from real sources", extra={"sources": reachable})
            return reachable
        self.mode = "simulated"
        log.warning(
            "No upstream source is reachable (%s). Serving the SIMULATED market instead: "
            "every value is labelled source=simulated:*; set CRYPTOQL_INGEST_MODE=real "
            "to insist on real sources.",
            "; ".join(f"{p.source}: {p.detail}" for p in self.probes) or "none enabled",
        )
        return []

    def simulated_feed(self) -> SimulatedFeed:
        opts = self.config.simulated
        return SimulatedFeed(
            self.writer,
            SimulatedMarket(opts.seed),
            engine=self.engine,
            assets=self.config.assets,
            tick_seconds=opts.tick_seconds,
            history_days=opts.history_days,
            minute_hours=opts.minute_hours,
        )

    def build(self, reachable: list[str]) -> list[Any]:
        """The feeds for the chosen mode, plus any the app adds (the Ethereum pump)."""
        extra = self.extra_feeds(self.mode or "", reachable) if self.extra_feeds else []
        feeds: list[Any]
        if self.mode == "simulated":
            feeds = [self.simulated_feed(), *extra]
        else:
            feeds = list(extra)
            rest = [s for s in reachable if s in ("coingecko", "binance", "coinbase")]
            if rest:
                real = RealFeed(
                    self.writer,
                    self.config,
                    rest,
                    engine=self.engine,
                    wiring=self.wiring,
                    bridge=self.live.identity_bridge,
                )
                feeds.append(real)
                if self.live.streams is not None:
                    feeds.extend(
                        stream_feeds(self.writer, self.live.streams, rest, real.identity_ready)
                    )
            if self.live.tokenmetrics is not None:
                feeds.append(
                    TokenMetricsFeed(
                        self.sessions,
                        self.publisher,
                        self.live.tokenmetrics,
                        self.config.assets,
                        wiring=self.wiring,
                        clock=self.clock,
                    )
                )
        retention = self.live.retention
        if retention is not None and retention.enabled:
            feeds.append(RetentionFeed(self.sessions, retention, clock=self.clock))
        return feeds

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Run until :meth:`stop` (or cancellation)."""
        self.feeds = self.build(await self.choose())
        async with asyncio.TaskGroup() as tg:
            for feed in self.feeds:
                tg.create_task(self._supervise(feed))

    async def run_once(self) -> None:
        """One cycle of every feed (``cryptoql ingest --once``)."""
        self.feeds = self.build(await self.choose())
        try:
            for feed in self.feeds:
                if isinstance(feed, SimulatedFeed):
                    await feed.seed()
                    while await feed.fill(self.writer.clock()):
                        pass
                    await feed.tick(self.writer.clock())
                    await self.engine.update(feed.asset_ids.values())
                elif hasattr(feed, "run_once"):  # live streams have no "one cycle"
                    await feed.run_once()
        finally:
            await self._close_feeds()

    async def _supervise(self, feed: Any) -> None:
        name: str = getattr(feed, "name", type(feed).__name__)
        delay = RESTART_BASE
        while not self._stop.is_set():
            try:
                await feed.run(self._stop)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self.crashes[name] = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("ingest feed %s crashed; restarting in %.0fs", name, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
            delay = min(delay * 2, RESTART_CAP)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="cryptoql-ingest")
        self._task.add_done_callback(_log_failure)

    async def stop(self, grace: float = 5.0) -> None:
        """Ask the feeds to finish their current write; cancel them after ``grace`` seconds."""
        self._stop.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except (TimeoutError, Exception):
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._close_feeds()

    async def _close_feeds(self) -> None:
        for feed in self.feeds:
            if hasattr(feed, "aclose"):
                try:
                    await feed.aclose()
                except Exception:
                    log.warning("closing ingest feed %s failed", feed.name, exc_info=True)

    @property
    def failed(self) -> str | None:
        """Why the runner task itself ended with an error (``None`` while fine)."""
        task = self._task
        if task is None or not task.done() or task.cancelled():
            return None
        error = task.exception()
        return None if error is None else f"{type(error).__name__}: {error}"[:300]

    def source_health(self) -> dict[str, dict[str, Any]]:
        """Every upstream's health, merged over the feeds that use it (``ingest.health``)."""
        reports = [feed.health() for feed in self.feeds if hasattr(feed, "health")]
        for feed in self.feeds:
            if isinstance(feed, SimulatedFeed):
                reports.append(
                    {
                        "simulated": {
                            "status": "ok" if feed.ticks else "starting",
                            "ticks": feed.ticks,
                            "history_current": feed.caught_up,
                        }
                    }
                )
        return merge(reports)

    def status(self) -> dict[str, Any]:
        """A JSON-able snapshot for health and metrics."""
        out: dict[str, Any] = {
            "mode": self.mode,
            "simulated": self.mode == "simulated",
            "probes": [{"source": p.source, "ok": p.ok, "detail": p.detail} for p in self.probes],
            "feeds": [getattr(f, "name", type(f).__name__) for f in self.feeds],
            "restarts": dict(self.restarts),
            "crashes": dict(self.crashes),
            "failed": self.failed,
            "signals_written": self.engine.written,
            "published": self.publisher.stats.messages,
            "publish_failures": self.publisher.stats.failures,
            **self.stats.snapshot(),
        }
        for feed in self.feeds:
            if isinstance(feed, RealFeed):
                out["errors"] = dict(feed.errors)
            if isinstance(feed, SimulatedFeed):
                out["history_current"] = feed.caught_up
            if isinstance(feed, RetentionFeed):
                out["retention"] = feed.stats()
            if isinstance(feed, TokenMetricsFeed):
                out["provider_signals_written"] = feed.written
        return out


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("ingest stopped: %r", task.exception(), exc_info=task.exception())


__all__ = ["Feed", "IngestRunner", "LiveOptions"]
