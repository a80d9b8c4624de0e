"""Seed a realistic database for the read benchmarks, fast.

    python -m bench seed [--url URL] [--assets 500] [--days 365] [--quick]

What it writes (defaults; ``--quick`` is 250 assets, 7 days of candles, 30
minutes of quotes and 1 day of signals):

* ``--assets`` coins (``bench-0`` … with ranks and categories) plus tether
  and an ``ethereum`` chain;
* quotes from 3 sources per asset every minute for the last
  ``--quote-minutes`` (120): coingecko (USD, with market figures), coinbase
  (USD) and binance (USDT, so every price exercises the USDT→USD
  conversion), and tether's USD quotes for that rate;
* a year of hourly candles per asset (one source), plus daily rollups, as the
  ingest stores them (a geometric random walk with valid OHLC);
* 8 signal kinds (the engine's names, ``trader_grade`` with components) every
  hour for the last ``--signal-days`` (7).

Rows go in through the driver in large batches (``executemany`` on SQLite,
``COPY`` on PostgreSQL): ORM-level inserts would spend most of the time in
per-row Python. Values are formatted exactly as the column types store them
(``storage.types``), so the application reads them back unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import migrate
from storage.engine import is_sqlite, make_engine, normalise_url

DEFAULT_URL = f"sqlite+aiosqlite:///{Path('data/bench.db').resolve()}"
BATCH = 20_000
SOURCES = (("coingecko", "USD"), ("coinbase", "USD"), ("binance", "USDT"))
SIGNAL_KINDS = ("sma_cross", "ema_cross", "rsi", "macd", "bollinger", "atr", "volatility")
CATEGORIES = ("layer-1", "layer-2", "defi", "meme", "gaming", "ai", "privacy", "exchange")


@dataclass
class SeedConfig:
    url: str = DEFAULT_URL
    assets: int = 500
    days: int = 365
    quote_minutes: int = 120
    signal_days: int = 7
    seed: int = 7

    @classmethod
    def quick(cls, url: str = DEFAULT_URL) -> SeedConfig:
        return cls(url=url, assets=250, days=7, quote_minutes=30, signal_days=1)


class Progress:
    """A one-line progress display on stderr (rows, percent, rows/s)."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.t0 = self.last = time.perf_counter()

    def add(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last > 0.5 or self.done >= self.total:
            self.last = now
            rate = self.done / max(now - self.t0, 1e-9)
            pct = 100 * self.done / max(self.total, 1)
            sys.stderr.write(
                f"\r  {self.label:<8} {self.done:>10,}/{self.total:,} ({pct:5.1f} %) "
                f"{rate:>9,.0f} rows/s"
            )
            sys.stderr.flush()

    def close(self) -> float:
        elapsed = time.perf_counter() - self.t0
        sys.stderr.write("\n")
        return elapsed


#: Column kinds: how a generated value (float, str, datetime …) is written.
DEC, TIME, JSON, RAW = "dec", "time", "json", "raw"


def _sqlite_converter(kind: str) -> Any:
    if kind == DEC:  # ExactDecimal stores text on SQLite
        return lambda v: None if v is None else (v if isinstance(v, str) else f"{v:.8f}")
    if kind == TIME:  # UTCDateTime + SQLite DATETIME: naive UTC text
        cache: dict[datetime, str] = {}

        def fmt(v: datetime) -> str:
            text = cache.get(v)
            if text is None:
                text = cache[v] = v.strftime("%Y-%m-%d %H:%M:%S.%f")
            return text

        return fmt
    if kind == JSON:
        return lambda v: None if v is None else json.dumps(v)
    return None


def _pg_converter(kind: str) -> Any:
    if kind == DEC:
        return lambda v: None if v is None else Decimal(v if isinstance(v, str) else f"{v:.8f}")
    if kind == JSON:
        return lambda v: None if v is None else json.dumps(v)
    return None


class Sink:
    """Bulk row writer for one backend.

    Generators yield plain values (floats are written with 8 decimals, as
    ``Decimal`` text on SQLite and as ``NUMERIC`` through ``COPY`` on
    PostgreSQL); each column's kind picks the conversion once per column.
    """

    def __init__(self, conn: AsyncConnection, sqlite: bool) -> None:
        self.conn, self.sqlite = conn, sqlite

    async def write(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Iterable[tuple[Any, ...]],
        p: Progress,
    ) -> None:
        names = [c for c, _ in columns]
        make = _sqlite_converter if self.sqlite else _pg_converter
        convert = [(i, f) for i, (_, kind) in enumerate(columns) if (f := make(kind))]
        marks = ", ".join("?" for _ in names)
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
        for chunk in _chunks(rows, BATCH):
            data = []
            for r in chunk:
                row = list(r)
                for i, f in convert:
                    row[i] = f(row[i])
                data.append(tuple(row))
            if self.sqlite:
                await self.conn.exec_driver_sql(sql, data)
            else:
                raw = await self.conn.get_raw_connection()
                pg: Any = raw.driver_connection
                await pg.copy_records_to_table(table, records=data, columns=names)
            p.add(len(chunk))


def _chunks(rows: Iterable[tuple[Any, ...]], n: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for r in rows:
        chunk.append(r)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _walk(rng: random.Random, start: float, steps: int, vol: float) -> list[float]:
    out, p = [], start
    for _ in range(steps):
        p *= math.exp(rng.gauss(0, vol))
        out.append(p)
    return out


QUOTE_COLUMNS = (
    ("source", RAW),
    ("asset_id", RAW),
    ("quote_currency", RAW),
    ("price", DEC),
    ("volume_24h", DEC),
    ("market_cap", DEC),
    ("change_24h", DEC),
    ("observed_at", TIME),
)
CANDLE_COLUMNS = (
    ("source", RAW),
    ("asset_id", RAW),
    ("quote_currency", RAW),
    ("interval", RAW),
    ("open_time", TIME),
    ("open", DEC),
    ("high", DEC),
    ("low", DEC),
    ("close", DEC),
    ("volume", DEC),
    ("is_complete", RAW),
)
SIGNAL_COLUMNS = (
    ("source", RAW),
    ("asset_id", RAW),
    ("kind", RAW),
    ("value", DEC),
    ("direction", RAW),
    ("horizon", RAW),
    ("computed_at", TIME),
    ("details", JSON),
)


def _quotes(prices: dict[int, float], now: datetime, minutes: int) -> Iterator[tuple[Any, ...]]:
    for m in range(minutes):
        t = now - timedelta(minutes=minutes - 1 - m)
        yield ("coingecko", 1, "USD", 0.9991, None, None, None, t)
        yield ("kraken", 1, "USD", 1.0003, None, None, None, t)
        for aid, base in prices.items():
            drift = 1 + 0.0004 * math.sin(m / 7 + aid)
            for k, (src, cur) in enumerate(SOURCES):
                price = base * drift * (1 + 0.0005 * (k - 1))
                gecko = src == "coingecko"
                cap = price * 1e7 * (1 + aid % 97) if gecko else None
                chg = math.sin(aid) * 5 if gecko else None
                yield (src, aid, cur, price, price * 1e5 if k < 2 else None, cap, chg, t)


def _candles(
    rng: random.Random, prices: dict[int, float], start: datetime, hours: int, now: datetime
) -> Iterator[tuple[Any, ...]]:
    """Hourly candles per asset plus the daily rollup of each day, as ingest stores them."""
    for aid, base in prices.items():
        prev = base
        day_open, day_high, day_low, day_vol, day_n = base, 0.0, math.inf, 0.0, 0
        for h, close in enumerate(_walk(rng, base, hours, 0.01)):
            t = start + timedelta(hours=h)
            hi = max(prev, close) * (1 + abs(rng.gauss(0, 0.003)))
            lo = min(prev, close) * (1 - abs(rng.gauss(0, 0.003)))
            vol = abs(rng.gauss(1000, 300))
            yield ("binance", aid, "USD", "1h", t, prev, hi, lo, close, vol,
                   t + HOUR <= now)  # fmt: skip
            if day_n == 0:
                day_open = prev
            day_high, day_low = max(day_high, hi), min(day_low, lo)
            day_vol, day_n = day_vol + vol, day_n + 1
            if t.hour == 23 or h == hours - 1:
                d0 = t.replace(hour=0)
                yield ("binance", aid, "USD", "1d", d0, day_open, day_high, day_low, close,
                       day_vol, day_n == 24 and d0 + DAY <= now)  # fmt: skip
                day_high, day_low, day_vol, day_n = 0.0, math.inf, 0.0, 0
            prev = close


def _signals(
    rng: random.Random, assets: Iterable[int], now: datetime, days: int
) -> Iterator[tuple[Any, ...]]:
    weights = {"trend": "0.35", "momentum": "0.25", "macd": "0.25", "stability": "0.15"}
    first = now.replace(minute=0) - timedelta(hours=days * 24 - 1)
    for aid in assets:
        for h in range(days * 24):
            t = first + timedelta(hours=h)
            for kind in SIGNAL_KINDS:
                v = rng.uniform(20, 80) if kind == "rsi" else rng.uniform(-1, 1)
                direction = "bullish" if v > 0.3 else "bearish" if v < -0.3 else "neutral"
                yield ("cryptoql", aid, kind, v, direction, "1h", t, {"interval": "1h"})
            parts = {k: f"{rng.uniform(0, 100):.2f}" for k in weights}
            grade = sum(Decimal(parts[k]) * Decimal(w) for k, w in weights.items())
            yield ("cryptoql", aid, "trader_grade", str(grade.quantize(Decimal("0.01"))),
                   "neutral", "1h", t, {**parts, "weights": weights})  # fmt: skip


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


async def _fill(sink: Sink, table: str, columns: Any, rows: Iterable[Any], total: int) -> int:
    p = Progress(table.split("_")[0][:8], total)
    await sink.write(table, columns, rows, p)
    p.close()
    return total


async def seed(cfg: SeedConfig, *, out: Any = sys.stderr) -> dict[str, int]:
    """Create (migrate) and fill the database at ``cfg.url``; returns row counts.

    A SQLite file is recreated; on PostgreSQL the graph tables are truncated.
    """
    url = normalise_url(cfg.url)
    sqlite = is_sqlite(url)
    if sqlite:
        path = Path(url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            await asyncio.to_thread(Path(f"{path}{suffix}").unlink, missing_ok=True)
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    rng = random.Random(cfg.seed)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    hours = cfg.days * 24
    start = now.replace(minute=0) - timedelta(hours=hours - 1)
    n = cfg.assets
    print(
        f"seeding {n} assets, {cfg.days} days of hourly candles, 3 sources each, on "
        f"{'SQLite' if sqlite else 'PostgreSQL'}",
        file=out,
    )
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    async with engine.begin() as conn:
        if not sqlite:
            await conn.execute(
                text(
                    "TRUNCATE assets, asset_categories, chains, quotes, candles, signal_values "
                    "RESTART IDENTITY CASCADE"
                )
            )
        sink = Sink(conn, sqlite)
        assets = [(1, "tether", "USDT", "Tether", "stablecoin", 3, None)]
        assets += [
            (i + 2, f"bench-{i}", f"B{i}", f"Bench {i}", "coin", i + 1, None) for i in range(n)
        ]
        assets.append((n + 2, "ethereum", "ETH", "Ethereum", "coin", 2, "ethereum"))
        cols = [(c, RAW) for c in ("id", "canonical_id", "symbol", "name", "kind", "rank",
                                   "native_chain_id")]  # fmt: skip
        counts["assets"] = await _fill(sink, "assets", cols, assets, len(assets))
        cats = [(i + 2, CATEGORIES[i % len(CATEGORIES)]) for i in range(n)]
        await _fill(sink, "asset_categories", [("asset_id", RAW), ("category", RAW)], cats, n)
        chain = [("ethereum", "Ethereum", "eip155:1", 1, n + 2)]
        cols = [(c, RAW) for c in ("id", "name", "caip2", "evm_chain_id", "native_asset_id")]
        await _fill(sink, "chains", cols, chain, 1)
        if not sqlite:
            await conn.execute(text("SELECT setval('assets_id_seq', :v)"), {"v": n + 2})
        prices = {i + 2: 10 ** rng.uniform(-2, 4.5) for i in range(n)}
        counts["quotes"] = await _fill(
            sink,
            "quotes",
            QUOTE_COLUMNS,
            _quotes(prices, now, cfg.quote_minutes),
            cfg.quote_minutes * (2 + 3 * n),
        )
        counts["candles"] = await _fill(
            sink,
            "candles",
            CANDLE_COLUMNS,
            _candles(rng, prices, start, hours, now),
            n * (hours + len({(start + timedelta(hours=h)).date() for h in range(hours)})),
        )
        counts["signals"] = await _fill(
            sink,
            "signal_values",
            SIGNAL_COLUMNS,
            _signals(rng, prices, now, cfg.signal_days),
            n * cfg.signal_days * 24 * (len(SIGNAL_KINDS) + 1),
        )
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    await engine.dispose()
    print(f"seeded in {time.perf_counter() - t0:.1f} s: {counts}", file=out)
    return counts


async def refresh_quotes(url: str) -> int:
    """Write one new quote per (source, asset, currency) at the current time, so prices are
    fresh when a benchmark runs long after the seed."""
    url = normalise_url(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        sink = Sink(conn, is_sqlite(url))
        rows = (
            await conn.execute(
                text(
                    "SELECT source, asset_id, quote_currency, price, volume_24h, market_cap, "
                    "change_24h FROM quotes WHERE id IN (SELECT MAX(id) FROM quotes "
                    "GROUP BY source, asset_id, quote_currency)"
                )
            )
        ).all()
        fresh = [(*(None if v is None else str(v) for v in r[:7]), now) for r in rows]
        fresh = [(r[0], int(r[1]) if r[1] is not None else None, *r[2:]) for r in fresh]
        await _fill(sink, "quotes", QUOTE_COLUMNS, fresh, len(fresh))
    await engine.dispose()
    return len(fresh)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m bench seed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--url", default=DEFAULT_URL, help="database URL (default: data/bench.db)")
    ap.add_argument("--assets", type=int, default=500)
    ap.add_argument("--days", type=int, default=365, help="days of hourly candles")
    ap.add_argument("--quote-minutes", type=int, default=120)
    ap.add_argument("--signal-days", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="250 assets, 7 days (about 15 s)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        cfg = SeedConfig.quick(args.url)
    else:
        cfg = SeedConfig(
            url=args.url,
            assets=args.assets,
            days=args.days,
            quote_minutes=args.quote_minutes,
            signal_days=args.signal_days,
        )
    asyncio.run(seed(cfg))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
