"""Schedules the real REST sources: identity, quotes and candles, each on its own cadence.

Per source one task loops ``cycle → sleep(schedule)``; a failed cycle (any
:class:`~sources.errors.SourceError`) is logged and retried on the next beat,
so one provider being down never stops the others, and the API keeps serving
the last stored values (marked stale by the read side). The adapters bring
their own timeouts, retries with jittered backoff, rate budgets and breakers.

Identity comes first: CoinGecko's coin list and platforms plus the exchanges'
market lists go through :func:`sources.identity.build_registry`, restricted to
the configured assets; without CoinGecko the configured assets' names come
from the simulated registry table (same canonical ids) and markets resolve
through the identity override file. Candle streams (Binance and Coinbase 1m,
CoinGecko OHLC) resume from a per-stream cursor stored with their rows.

**The tickers bridge.** The override file names only a few majors per
exchange. Every other exchange currency code is resolved through CoinGecko's
``/coins/{id}/tickers`` rows for the followed assets on the followed exchanges
(``coingecko_exchange_ids`` in the override file: ``binance``, ``gdax``), which
say which CoinGecko id a code denotes *on that exchange*; a code the bridge
names two ids for is reported, never guessed. The public plan allows about
ten calls a minute, so the bridge runs in the background after the first
identity pass (prices flow from the majors at once) and again after every
identity refresh; the fetched rows are kept, so a refresh that cannot reach
CoinGecko still maps what it mapped before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ingest.candles import floor_time
from ingest.config import IngestConfig
from ingest.health import rest_health
from ingest.signals import SignalEngine
from ingest.writer import Cursor, Writer
from sources import identity, simulated
from sources.base import Wiring
from sources.binance import Binance, BinanceConfig
from sources.coinbase import Coinbase, CoinbaseConfig
from sources.coingecko import CoinGecko, CoinGeckoConfig
from sources.errors import SourceError, SourceRateLimited, SourceUnavailable
from sources.records import (
    AssetPlatform,
    CandleRecord,
    CoinListing,
    ExchangeMarket,
    ExchangeTicker,
)
from storage.records import ChainRecord, ContractRecord
from storage.repositories import ingest as repo

log = logging.getLogger("cryptoql.ingest.real")

QUOTES_OK = {"USD", "USDT", "USDC"}
#: How soon an unfinished tickers-bridge pass is resumed (CoinGecko was rate-limited or down).
BRIDGE_RETRY_S = 300.0


async def store_plan(session: AsyncSession, plan: identity.IdentityPlan) -> dict[str, int]:
    """Upsert an identity plan inside the caller's transaction; ``{canonical_id: id}``."""
    ids = await repo.upsert_assets(
        session,
        [
            repo.AssetRow(a.canonical_id, a.symbol, a.name, a.kind, None, a.native_chain_id)
            for a in plan.assets
        ],
    )
    await repo.upsert_chains(
        session,
        [
            ChainRecord(c.id, c.name, c.caip2, c.evm_chain_id, ids.get(c.native_canonical_id or ""))
            for c in plan.chains
        ],
    )
    await repo.upsert_contracts(
        session,
        [
            ContractRecord(ids[c.canonical_id], c.chain_id, c.address, c.decimals)
            for c in plan.contracts
            if c.canonical_id in ids and c.decimals is not None
        ],
    )
    await repo.upsert_aliases(
        session,
        [
            repo.AliasRow(ids[a.canonical_id], a.source, a.external_id)
            for a in plan.aliases
            if a.canonical_id in ids
        ],
    )
    await repo.upsert_markets(
        session,
        [
            repo.MarketRow(m.source, m.symbol, ids[m.base_canonical_id], m.quote_currency)
            for m in plan.markets
            if m.base_canonical_id in ids
        ],
    )
    return ids


class RealFeed:
    name = "real"

    def __init__(
        self,
        writer: Writer,
        config: IngestConfig,
        sources: Sequence[str],
        *,
        engine: SignalEngine | None = None,
        wiring: Wiring | None = None,
        bridge: bool = True,
        overrides: identity.Overrides | None = None,
    ) -> None:
        self.writer, self.config, self.engine = writer, config, engine
        self.sources = [s for s in sources if s in ("coingecko", "binance", "coinbase")]
        real = config.real
        self.coingecko = CoinGecko(CoinGeckoConfig(base_url=real.coingecko_url), wiring)
        self.binance = Binance(BinanceConfig(base_url=real.binance_url), wiring)
        self.coinbase = Coinbase(CoinbaseConfig(base_url=real.coinbase_url), wiring)
        self.bridge = bridge
        self.overrides = overrides or identity.Overrides.load()
        self.markets: dict[str, list[str]] = {}  # source -> market symbols to follow
        self.asset_ids: dict[str, int] = {}
        self.errors: dict[str, str] = {}
        self.cycles: dict[str, int] = {}
        # The identity inputs last fetched, and the bridge rows per followed coin id.
        self._inputs: tuple[list[CoinListing], list[AssetPlatform], list[ExchangeMarket]] | None
        self._inputs = None
        self.tickers: dict[str, list[ExchangeTicker]] = {}
        #: Set once the first registry is stored: live streams wait for it, so their
        #: first ticks (a Coinbase snapshot) map to assets instead of counting as unmapped.
        self.identity_ready = asyncio.Event()

    async def aclose(self) -> None:
        for adapter in (self.coingecko, self.binance, self.coinbase):
            await adapter.aclose()

    # ------------------------------------------------------------------ identity

    async def refresh_identity(self) -> None:
        """Fetch the sources' mapping data, then build and store the registry from it."""
        wanted = set(self.config.assets)
        listings: list[CoinListing] = []
        platforms: list[AssetPlatform] = []
        if "coingecko" in self.sources:
            listings = [c for c in await self.coingecko.coins_list() if c.id in wanted]
            platforms = list(await self.coingecko.asset_platforms())
        if not listings:  # CoinGecko down: the same canonical ids, names from our table
            listings = [
                CoinListing(a.canonical_id, a.symbol.lower(), a.name)
                for a in simulated.ASSETS
                if a.canonical_id in wanted
            ]
        markets: list[ExchangeMarket] = []
        if "binance" in self.sources:
            markets += list(await self.binance.exchange_info())
        if "coinbase" in self.sources:
            markets += list(await self.coinbase.products())
        self._inputs = (listings, platforms, markets)
        await self.apply_identity()

    def bridge_exchanges(self) -> list[str]:
        """CoinGecko's market ids of the exchanges we follow (``binance``, ``gdax``)."""
        out: list[str] = []
        for source in ("binance", "coinbase"):
            if source in self.sources:
                out.extend(self.overrides.coingecko_exchange_ids.get(source, (source,)))
        return list(dict.fromkeys(out))

    async def refresh_bridge(self, *, only_missing: bool = False) -> int:
        """Fetch the tickers bridge for the followed assets; rebuild identity when it grew.

        Returns the number of assets whose tickers were fetched (``only_missing``:
        only those without bridge rows yet). A rate limit or an unavailable
        CoinGecko ends the pass early, after storing what it fetched, instead of
        spending the budget on calls that would fail too; the error is raised.
        """
        exchanges = self.bridge_exchanges()
        if not self.bridge or "coingecko" not in self.sources or not exchanges:
            return 0
        if self._inputs is None:
            return 0
        fetched = 0
        try:
            for cid in self.config.assets:
                if only_missing and cid in self.tickers:
                    continue
                try:
                    batch = await self.coingecko.coin_tickers(cid, exchanges)
                except (SourceRateLimited, SourceUnavailable):
                    raise
                except SourceError as exc:  # e.g. an id CoinGecko does not know: skip it
                    log.warning("tickers bridge for %s failed: %s", cid, exc)
                    continue
                self.tickers[cid] = list(batch)
                fetched += 1
        finally:
            if fetched:
                await self.apply_identity()
        return fetched

    def bridge_complete(self) -> bool:
        """Whether every followed asset has bridge rows (or no bridge is wanted)."""
        if not self.bridge or "coingecko" not in self.sources or not self.bridge_exchanges():
            return True
        return set(self.config.assets) <= set(self.tickers)

    async def apply_identity(self) -> None:
        """Build the registry from the last inputs and the bridge rows; store the followed part."""
        assert self._inputs is not None
        listings, platforms, markets = self._inputs
        wanted = set(self.config.assets)
        tickers = [t for rows in self.tickers.values() for t in rows]
        plan = identity.build_registry(
            listings, platforms, markets, tickers, overrides=self.overrides
        )
        follow: dict[str, list[str]] = {}
        for m in plan.markets:
            if m.active and m.base_canonical_id in wanted and m.quote_currency in QUOTES_OK:
                follow.setdefault(m.source, []).append(m.symbol)
        kept = identity.IdentityPlan(
            assets=tuple(a for a in plan.assets if a.canonical_id in wanted),
            aliases=plan.aliases,
            chains=plan.chains,
            contracts=plan.contracts,
            markets=tuple(m for m in plan.markets if m.symbol in follow.get(m.source, ())),
            unresolved=plan.unresolved,
            ambiguous_symbols=plan.ambiguous_symbols,
            preferred_symbols=plan.preferred_symbols,
        )
        async with self.writer.sessions() as session:
            self.asset_ids = await store_plan(session, kept)
            await session.commit()
        self.writer.forget_identity()
        self.markets = {k: sorted(v) for k, v in follow.items()}
        self.identity_ready.set()
        log.info(
            "identity refreshed",
            extra={
                "assets": len(self.asset_ids),
                "markets": sum(map(len, follow.values())),
                "bridged_assets": len(self.tickers),
            },
        )

    # ------------------------------------------------------------------ cycles

    async def _candle_cursor(self, source: str, stream: str) -> datetime:
        async with self.writer.sessions() as session:
            raw = await repo.get_cursor(session, source, stream)
        if raw:
            return datetime.fromisoformat(raw)
        hours = self.config.real.initial_candle_hours
        return floor_time(self.writer.clock() - timedelta(hours=hours), "1m")

    async def _write_candles(
        self, source: str, stream: str, candles: Sequence[CandleRecord]
    ) -> None:
        """Store candles; the cursor moves to just after the last *complete* one."""
        done = [c.open_time for c in candles if c.is_complete]
        cursors = []
        if done:
            step = timedelta(seconds=60 if stream.startswith("1m") else 0)
            cursors.append(Cursor(source, stream, (max(done) + step).isoformat()))
        await self.writer.write(candles=candles, cursors=cursors)

    async def coingecko_cycle(self) -> None:
        ids = [a for a in self.config.assets if a in self.asset_ids]
        await self.writer.write(quotes=list(await self.coingecko.markets("usd", ids=ids)))
        if self.cycles.get("coingecko", 0) % 15 == 0:  # OHLC refreshes every ~15 minutes
            for cid in ids:
                batch = await self.coingecko.ohlc(cid, "usd", "1")
                await self.writer.write(candles=list(batch))

    async def binance_cycle(self) -> None:
        symbols = self.markets.get("binance", [])
        if not symbols:
            return
        await self.writer.write(quotes=list(await self.binance.tickers_24h(symbols)))
        for symbol in symbols:
            stream = f"1m:{symbol}"
            start = await self._candle_cursor("binance", stream)
            batch = await self.binance.klines(symbol, "1m", start=start)
            await self._write_candles("binance", stream, list(batch))

    async def coinbase_cycle(self) -> None:
        now = self.writer.clock()
        for product in self.markets.get("coinbase", []):
            stream = f"1m:{product}"
            start = await self._candle_cursor("coinbase", stream)
            end = min(now, start + timedelta(minutes=300))
            batch = await self.coinbase.candles(product, "1m", start, end)
            await self._write_candles("coinbase", stream, list(batch))

    async def run_once(self) -> None:
        """Identity, then one cycle of every source (``cryptoql ingest --once``)."""
        await self.refresh_identity()
        await self._guarded("bridge", self.refresh_bridge())
        for source in self.sources:
            await self._guarded(source, self._cycle(source))
        if self.engine is not None:
            await self.engine.update(self.asset_ids.values())

    def _cycle(self, source: str) -> Awaitable[None]:
        cycles: dict[str, Callable[[], Awaitable[None]]] = {
            "coingecko": self.coingecko_cycle,
            "binance": self.binance_cycle,
            "coinbase": self.coinbase_cycle,
            "identity": self.refresh_identity,
            "bridge": self._bridge_cycle,
        }
        return cycles[source]()

    async def _bridge_cycle(self) -> None:
        await self.refresh_bridge()

    async def _guarded(self, name: str, work: Awaitable[Any]) -> bool:
        try:
            await work
        except SourceError as exc:
            self.errors[name] = str(exc)
            log.warning("ingest cycle failed", extra={"source": name, "error": str(exc)})
            return False
        self.errors.pop(name, None)
        self.cycles[name] = self.cycles.get(name, 0) + 1
        return True

    async def _loop(self, name: str, every: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._guarded(name, self._cycle(name))
            if self.engine is not None and name != "coingecko":
                await self.engine.update(self.asset_ids.values())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)

    async def run(self, stop: asyncio.Event) -> None:
        schedule = self.config.real.schedule
        while not stop.is_set() and not await self._guarded("identity", self.refresh_identity()):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=30)
        async with asyncio.TaskGroup() as tg:
            for source in self.sources:
                tg.create_task(self._loop(source, schedule.get(source, 60.0), stop))
            tg.create_task(self._identity_loop(schedule.get("identity", 21_600.0), stop))

    async def _identity_loop(self, every: float, stop: asyncio.Event) -> None:
        """The bridge right after the first identity pass, then both every ``every`` s.

        A bridge pass that could not finish (CoinGecko rate-limited or down) is
        resumed for the missing assets every ``BRIDGE_RETRY_S`` instead of
        waiting a whole identity period.
        """
        loop = asyncio.get_running_loop()
        next_identity = loop.time() + every
        only_missing = False
        while not stop.is_set():
            await self._guarded("bridge", self.refresh_bridge(only_missing=only_missing))
            left = next_identity - loop.time()
            wait = left if self.bridge_complete() else min(left, BRIDGE_RETRY_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, wait))
            if stop.is_set():
                return
            only_missing = loop.time() < next_identity
            if not only_missing:
                await self._guarded("identity", self.refresh_identity())
                next_identity = loop.time() + every

    # ------------------------------------------------------------------ health

    def adapters(self) -> dict[str, Any]:
        return {"coingecko": self.coingecko, "binance": self.binance, "coinbase": self.coinbase}

    def health(self) -> dict[str, dict[str, Any]]:
        """Per source: the resilient client's health plus this feed's cycle figures."""
        out: dict[str, dict[str, Any]] = {}
        adapters = self.adapters()
        for source in self.sources:
            entry = rest_health(adapters[source].health(), self.errors.get(source))
            entry["cycles"] = self.cycles.get(source, 0)
            entry["markets"] = len(self.markets.get(source, []))
            out[source] = entry
        if "coingecko" in out:
            out["coingecko"]["bridged_assets"] = len(self.tickers)
        return out


__all__ = ["RealFeed", "store_plan"]
