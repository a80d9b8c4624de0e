"""``cryptoql ingest``, ``cryptoql backfill`` and ``cryptoql import`` (docs/ingest.md).

Each command opens its own engine on the configured database (migrating it
first when ``auto_migrate`` is on, like ``serve``), does its work and exits
with 0 on success, 1 when the work was refused (a rejected import, a source
that failed) and 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.ingest_component import ingest_config, make_runner
from app.settings import Settings
from ingest.backfill import ExchangeFetcher, Fetcher, SimulatedFetcher, backfill, seed_simulated
from ingest.candles import seconds
from ingest.importer import ImportRejected, import_files
from ingest.progress import Progress
from ingest.publish import Publisher
from ingest.signals import SignalEngine
from ingest.writer import Writer
from pubsub.factory import running_broker
from sources.errors import SourceError
from sources.simulated import VENUES, SimulatedMarket, is_simulated
from storage import migrate
from storage.engine import SessionFactory, make_engine, make_session_factory
from storage.repositories import ingest as repo

SettingsOf = Callable[[argparse.Namespace], Settings]
log = logging.getLogger("cryptoql.cli")


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[SessionFactory]:
    url = settings.effective_database_url
    if settings.auto_migrate:
        await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


def _when(text: str) -> datetime:
    """``2026-01-05``, ``2026-01-05T12:00``, ``…Z`` or ``…+00:00``; naive means UTC."""
    ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


# ------------------------------------------------------------------ ingest


async def _ingest(settings: Settings, once: bool) -> int:
    async with (
        _database(settings) as sessions,
        running_broker(
            settings.redis_url,
            replay_window=settings.pubsub_replay_window,
            queue_size=settings.pubsub_queue_size,
            namespace=settings.pubsub_namespace,
        ) as broker,
    ):
        runner = make_runner(settings, sessions, broker)
        if once:
            await runner.run_once()
            print(f"ingest: one cycle done ({runner.mode})", file=sys.stderr)
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        runner.start()
        await stop.wait()
        await runner.stop()
        return 0


def cmd_ingest(settings_of: SettingsOf) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        settings = settings_of(args)
        if args.mode:
            settings = settings.model_copy(update={"ingest_mode": args.mode})
        return asyncio.run(_ingest(settings, args.once))

    return run


# ------------------------------------------------------------------ backfill


async def _fetcher(
    settings: Settings, sessions: SessionFactory, source: str, assets: list[str]
) -> tuple[Fetcher, Any]:
    if is_simulated(source):
        venues = [v for v in VENUES if source in ("simulated", v.source)]
        if not venues:
            raise SystemExit(f"unknown simulated venue {source!r}")
        return SimulatedFetcher(SimulatedMarket(settings.simulated_seed), venues), None
    real = ingest_config(settings).real
    adapter: Any
    if source == "binance":
        from sources.binance import Binance, BinanceConfig

        adapter = Binance(BinanceConfig(base_url=real.binance_url))
    elif source == "coinbase":
        from sources.coinbase import Coinbase, CoinbaseConfig

        adapter = Coinbase(CoinbaseConfig(base_url=real.coinbase_url))
    else:
        raise SystemExit(
            f"backfill supports simulated[:venue], binance and coinbase, not {source!r}"
        )
    async with sessions() as session:
        ids = await repo.asset_ids_by_canonical(session, assets)
        markets = await repo.markets_for_assets(session, source, list(ids.values()))
    follow = {}
    for cid, aid in ids.items():
        usd = [m for m, quote in markets.get(aid, []) if quote in ("USD", "USDT", "USDC")]
        if usd:
            follow[cid] = usd[0]
    if not follow:
        raise SystemExit(f"no stored {source} markets for {assets}: run `cryptoql ingest --once`")
    return ExchangeFetcher(adapter, follow), adapter


async def _backfill(settings: Settings, args: argparse.Namespace) -> int:
    assets = [a.strip() for a in args.assets.split(",") if a.strip()]
    start, end = _when(args.start), _when(args.end) if args.end else datetime.now(UTC)
    if end <= start:
        raise SystemExit("--to must be after --from")
    async with _database(settings) as sessions:
        writer = Writer(sessions, Publisher(None))
        if is_simulated(args.source):
            await seed_simulated(writer, SimulatedMarket(settings.simulated_seed), assets)
        fetcher, adapter = await _fetcher(settings, sessions, args.source, assets)
        engine = None
        if not args.no_signals:
            engine = SignalEngine(
                sessions,
                intervals=settings.signals_intervals,
                source_priority=settings.signals_source_priority,
                window=settings.signals_window,
            )
        label = f"backfill {args.source} {args.interval}"
        try:
            report = await backfill(
                writer,
                fetcher,
                assets=assets,
                interval=args.interval,
                start=start,
                end=end,
                chunk=args.chunk,
                engine=engine,
                progress=None
                if args.quiet
                else lambda total: Progress(total, label, unit="candles"),
            )
        except SourceError as exc:
            print(f"backfill stopped: {exc} (re-run the same command to resume)", file=sys.stderr)
            return 1
        finally:
            if adapter is not None:
                await adapter.aclose()
    resumed = f", resumed {len(report.resumed)} streams" if report.resumed else ""
    print(
        f"backfill done: {report.candles} candles, {report.rollups} rollups, "
        f"{report.rejected} rejected, {report.chunks} chunks{resumed}",
        file=sys.stderr,
    )
    return 0


def cmd_backfill(settings_of: SettingsOf) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            seconds(args.interval)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        return asyncio.run(_backfill(settings_of(args), args))

    return run


# ------------------------------------------------------------------ import


async def _import(settings: Settings, files: list[Path]) -> int:
    async with _database(settings) as sessions:
        try:
            report = await import_files(Writer(sessions, Publisher(None)), files)
        except ImportRejected as exc:
            print(str(exc), file=sys.stderr)
            return 1
    print(
        f"imported {report.files} file(s): {report.assets} assets, {report.quotes} quotes, "
        f"{report.candles} candles (+{report.rollups} rollups)",
        file=sys.stderr,
    )
    return 0


def cmd_import(settings_of: SettingsOf) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return asyncio.run(_import(settings_of(args), list(args.files)))

    return run


# ------------------------------------------------------------------ registration


def register(sub: Any, settings_of: SettingsOf) -> None:
    p = sub.add_parser(
        "ingest",
        help="run the ingest worker (real sources, or the simulated market offline)",
        description=(
            "Run ingest as a separate worker (serve runs it too unless "
            "CRYPTOQL_INGEST_ENABLED=false). Stops on Ctrl-C / SIGTERM."
        ),
    )
    p.add_argument("--once", action="store_true", help="run one cycle of every source and exit")
    p.add_argument(
        "--mode", choices=("auto", "real", "simulated"), help="override CRYPTOQL_INGEST_MODE"
    )
    p.set_defaults(handler=cmd_ingest(settings_of))

    p = sub.add_parser(
        "backfill",
        help="fetch historical candles for a range (resumable, progress on stderr)",
        description=(
            "Fill [--from, --to) with candles, chunk by chunk, each chunk committed with its "
            "cursor: re-running the same command after an interruption resumes it."
        ),
    )
    p.add_argument(
        "--source", required=True, help="simulated, simulated:<venue>, binance or coinbase"
    )
    p.add_argument(
        "--assets", required=True, help="comma-separated canonical ids: bitcoin,ethereum"
    )
    p.add_argument("--interval", default="1m", help="candle interval (default 1m)")
    p.add_argument("--from", dest="start", required=True, help="start, ISO-8601 (UTC if no zone)")
    p.add_argument("--to", dest="end", help="end (exclusive), ISO-8601; default now")
    p.add_argument("--chunk", type=int, default=360, help="candles per transaction (default 360)")
    p.add_argument("--no-signals", action="store_true", help="skip recomputing signals")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_backfill(settings_of))

    p = sub.add_parser(
        "import",
        help="load assets, quotes and candles from CSV / JSON / JSON Lines files",
        description=(
            "Validate every row of every file, then write all of them in one transaction; "
            "any bad row rejects the import (file:line listed) and nothing is written. "
            "Formats: docs/ingest.md."
        ),
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help=".csv, .json or .jsonl")
    p.set_defaults(handler=cmd_import(settings_of))


__all__ = ["main", "register"]


def main(argv: list[str] | None = None) -> int:
    """``python -m app.cli_ingest …``: these commands without loading the rest of the CLI."""
    from app.cli import _settings

    parser = argparse.ArgumentParser(prog="cryptoql")
    parser.add_argument("--env-file", type=Path, help="read settings from this KEY=VALUE file")
    register(parser.add_subparsers(dest="command", required=True), _settings)
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
