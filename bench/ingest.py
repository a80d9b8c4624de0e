"""Ingest throughput: rows/s of candle and quote upserts on SQLite and PostgreSQL.

    .venv/bin/python -m bench.ingest [--rows 20000] [--batch 1000] [--backends sqlite,postgres]

Each backend gets a fresh, migrated database (a temp file; a throw-away PostgreSQL
database at CRYPTOQL_TEST_PG's server, dropped afterwards). For each table the run
writes ``--rows`` new rows in transactions of ``--batch`` rows through the production
write path (``Writer.store``: upsert + rollups for candles), then writes the same rows
again (the idempotent re-write a restarted ingest does), and prints rows/s for both.
Candles are 1m (so every batch also recomputes its 5m/1h/1d rollups).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

from ingest.progress import Progress
from ingest.registry import AssetSpec, Registry, store_registry
from ingest.writer import Writer
from storage import migrate
from storage.engine import make_engine, make_session_factory
from storage.repositories.ingest import CandleRow, QuoteRow

PG_ADMIN = os.environ.get("CRYPTOQL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ASSETS = 10


def _candles(asset_ids: list[int], n: int) -> list[CandleRow]:
    rows = []
    per_asset = -(-n // len(asset_ids))
    for aid in asset_ids:
        for i in range(per_asset):
            p = Decimal(1000 + (i % 97)) / 10
            rows.append(
                CandleRow(
                    "bench",
                    aid,
                    "USD",
                    "1m",
                    T0 + timedelta(minutes=i),
                    p,
                    p + 1,
                    p - 1,
                    p + Decimal("0.5"),
                    Decimal(i % 13 + 1),
                )
            )
    return rows[:n]


def _quotes(asset_ids: list[int], n: int) -> list[QuoteRow]:
    per_asset = -(-n // len(asset_ids))
    rows = [
        QuoteRow(
            "bench",
            aid,
            "USD",
            Decimal(1000 + i % 101) / 7,
            T0 + timedelta(seconds=i),
            volume_24h=Decimal(10**9 + i),
            market_cap=Decimal(10**11 + i),
        )
        for aid in asset_ids
        for i in range(per_asset)
    ]
    return rows[:n]


async def _run(url: str, backend: str, rows: int, batch: int) -> list[tuple[str, str, float]]:
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    writer = Writer(sessions)
    async with sessions() as s:
        ids = await store_registry(
            s,
            Registry(tuple(AssetSpec(f"bench-{i}", f"B{i}", f"Bench {i}") for i in range(ASSETS))),
        )
        await s.commit()
    asset_ids = sorted(ids.values())
    out = []
    try:
        for table, data in (
            ("candles", _candles(asset_ids, rows)),
            ("quotes", _quotes(asset_ids, rows)),
        ):
            for phase in ("insert", "re-write"):
                bar = Progress(len(data), f"{backend:8} {table:7} {phase:8}", unit="rows")
                t0 = time.perf_counter()
                for start in range(0, len(data), batch):
                    chunk = data[start : start + batch]
                    async with sessions() as s:
                        if table == "candles":
                            await writer.store(s, [], chunk)
                        else:
                            await writer.store(s, chunk, [])
                        await s.commit()
                    bar.advance(len(chunk))
                bar.close()
                out.append((table, phase, len(data) / (time.perf_counter() - t0)))
    finally:
        await engine.dispose()
    return out


async def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--backends", default="sqlite,postgres")
    args = ap.parse_args(argv)
    results: list[tuple[str, str, str, float]] = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                for r in await _run(url, backend, args.rows, args.batch):
                    results.append((backend, *r))
        else:
            name = f"cq_bench_{uuid.uuid4().hex[:8]}"
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()
            url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
            try:
                for r in await _run(f"{url}/{name}", backend, args.rows, args.batch):
                    results.append((backend, *r))
            finally:
                conn = await asyncpg.connect(PG_ADMIN)
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.close()
    print(f"\n{args.rows} rows per table, {args.batch} rows per transaction\n")
    print(f"{'backend':10} {'table':8} {'phase':9} {'rows/s':>10}")
    for backend, table, phase, rate in results:
        print(f"{backend:10} {table:8} {phase:9} {rate:10,.0f}")


if __name__ == "__main__":
    asyncio.run(main())
