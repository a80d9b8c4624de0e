"""Speed bench: dashboard queries through every execution path, in one run.

    python -m bench speed [--quick] [--queries ticker,dashboard] [--sizes 10,100,1000]
                          [--duration 6] [--concurrency 2] [--repeat 1]
                          [--load httpx|wrk]

Two documents, each at every N (``assets(first: N)``; the servers run with
``max_page_size`` raised to the largest N):

* ``ticker`` — the speed issue's baseline shape (``TICKER``): per asset three
  scalars, a consensus price object of four fields and three signals of three
  fields;
* ``dashboard`` — the product's full dashboard (``bench.dashboard.DASHBOARD``:
  consensus price with its per-source quotes, market, every signal, grade with
  components and a 24-point sparkline; about 170 fields per asset).

For each document and N it drives one uvicorn worker per path:

* ``reference`` — strawberry on graphql-core's executor (compiled path off);
* ``compiled``  — the compiled execution path (``schema/compiled``);
* ``cache``     — compiled, with the exact response cache on (repeat queries);
* ``ceiling``   — the same JSON built by hand in Starlette + orjson
  (``bench/ceiling_app.py``): Python's HTTP ceiling.

The graph paths run ``bench/speed_app.py``: the real application with the
request clock frozen and loader batches memoised, so after the first request
the data comes from memory and the figures measure execution, not SQLite.
It prints requests/s, p50/p99 latency, server CPU per request and per asset
(from /proc, so the load client's own CPU is not counted), and the ratios
between paths measured in this same run.

Two load generators:

* ``--load httpx`` (default): ``--concurrency`` (2) keep-alive httpx clients in
  this process, sharing the 2 cores with the server. Requests/s is a floor that
  penalises the faster server most (the client's CPU and round trips leave it
  idle part of the time); CPU per request is the cleaner figure.
* ``--load wrk``: the speed issue's baseline method (``bench/wrk.py``): the
  server pinned to CPU 0, ``wrk -t1 -c32`` pinned to CPU 1 after a warm-up and
  once the server idles, every answer checked by wrk's script. Requests/s is
  then the server's own throughput on one core, comparable with the issue's
  table. Needs ``wrk`` (Debian package); with ``-c32`` a point needs a window
  several times one request's queueing time (at N=1,000 on the reference path,
  ~10 s per request): the bench warns when a point completes too few requests.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.dashboard import (
    DASHBOARD,
    Row,
    _asset_count,
    _query,
    _server_env,
    load,
    server,
)
from bench.seed import SeedConfig, refresh_quotes, seed
from bench.wrk import SERVER_CPU, load_wrk, wrk_path
from storage.engine import normalise_url

DEFAULT_URL = f"sqlite+aiosqlite:///{Path('data/bench-speed.db').resolve()}"
PATHS = ("reference", "compiled", "cache", "ceiling")

#: The speed issue's baseline shape: 3 scalars, a price of 4 fields, 3 signals of 3 fields.
TICKER = """query Ticker($n: Int!) {
  assets(first: $n, orderBy: {field: MARKET_CAP}) {
    edges { node {
      id symbol name
      price { value observedAt stale sourceCount }
      signals(kinds: ["rsi", "macd", "sma_cross"]) { kind value direction }
    } }
  }
}"""
QUERIES = {"ticker": TICKER, "dashboard": DASHBOARD}


@dataclass
class Result:
    path: str
    row: Row
    query: str = "dashboard"
    #: the load generator's CPU use in percent of its core (wrk only)
    load_cpu_pct: float | None = None

    @property
    def cpu_us_per_asset(self) -> float:
        return self.row.cpu_ms * 1000 / self.row.n


def _env(url: str, path: str, ceiling_data: Path, max_n: int) -> tuple[str, dict[str, str]]:
    env = _server_env(url, response_cache=path == "cache")
    env["CRYPTOQL_COMPILED_EXECUTION"] = "false" if path == "reference" else "true"
    env["CRYPTOQL_BENCH_CEILING_DATA"] = str(ceiling_data)
    env["CRYPTOQL_MAX_PAGE_SIZE"] = str(max(250, max_n))
    # A 1,000-asset dashboard is ~3 MB of JSON: above the default 2 MB per-entry cap.
    env["CRYPTOQL_RESPONSE_CACHE_MAX_ENTRY_BYTES"] = str(32 * 1024 * 1024)
    app = "bench.ceiling_app:app" if path == "ceiling" else "bench.speed_app:app"
    return app, env


@asynccontextmanager
async def _server(
    url: str, path: str, ceiling_data: Path, max_n: int, cpu: int | None = None
) -> AsyncIterator[tuple[str, int]]:
    app, env = _env(url, path, ceiling_data, max_n)
    async with server(
        url, response_cache=path == "cache", app_path=app, env=env, cpu=cpu
    ) as running:
        yield running


async def _capture(base: str, queries: list[str], sizes: list[int], target: Path) -> None:
    """The compiled server's answers, for the hand-built ceiling to rebuild."""
    captured: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for name in queries:
            for n in sizes:
                payload = {"query": QUERIES[name], "variables": {"n": n}}
                resp = await client.post("/graphql", json=payload)
                body = resp.json()
                if body.get("errors"):
                    raise RuntimeError(f"{name} failed: {str(body['errors'])[:300]}")
                if len(body["data"]["assets"]["edges"]) != n:
                    raise RuntimeError(f"{name}: asked for {n} assets, got fewer: seed more")
                body.pop("extensions", None)
                captured[f"{name}:{n}"] = body
    await asyncio.to_thread(target.write_bytes, orjson.dumps(captured))


def print_results(results: list[Result], sizes: list[int], out: Any = sys.stdout) -> None:
    wrk = any(r.load_cpu_pct is not None for r in results)
    head = (
        f"{'query':<10} {'path':<10} {'N':>5} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} "
        f"{'cpu ms/req':>11} {'cpu us/asset':>13} {'errors':>7}"
        + (f" {'wrk cpu':>8}" if wrk else "")
    )
    print(head, file=out)
    print("-" * len(head), file=out)
    for r in results:
        row = r.row
        print(
            f"{r.query:<10} {r.path:<10} {row.n:>5} {row.rps:>9.1f} {row.p50_ms:>9.2f} "
            f"{row.p99_ms:>9.2f} {row.cpu_ms:>11.3f} {r.cpu_us_per_asset:>13.1f} {row.errors:>7}"
            + (f" {r.load_cpu_pct or 0:>7.0f}%" if wrk else ""),
            file=out,
        )
    by = {(r.query, r.path, r.row.n): r for r in results}
    for query in dict.fromkeys(r.query for r in results):
        print(f"\n{query}: ratios in this run (req/s, and server CPU per request):", file=out)
        for n in sizes:
            ref = by.get((query, "reference", n))
            for path in ("compiled", "cache", "ceiling"):
                r = by.get((query, path, n))
                if ref and r and ref.row.rps and r.row.cpu_ms:
                    print(
                        f"  N={n:<5} {path:<9} vs reference: {r.row.rps / ref.row.rps:6.1f}x "
                        f"req/s, {ref.row.cpu_ms / r.row.cpu_ms:6.1f}x less CPU",
                        file=out,
                    )
            cache, ceiling = by.get((query, "cache", n)), by.get((query, "ceiling", n))
            if cache and ceiling and ceiling.row.rps:
                print(
                    f"  N={n:<5} cache reaches {cache.row.rps / ceiling.row.rps:6.1%} of the "
                    f"hand-built ceiling's req/s",
                    file=out,
                )
        for path in ("reference", "compiled"):
            per = [by[(query, path, n)].cpu_us_per_asset for n in sizes if (query, path, n) in by]
            if len(per) >= 2 and min(per):
                print(
                    f"  {path}: CPU per asset from N={sizes[0]} to N={sizes[-1]}: "
                    + " -> ".join(f"{p:.1f}" for p in per)
                    + f" us (max/min {max(per) / min(per):.2f})",
                    file=out,
                )


def medians(rounds: list[list[Result]]) -> list[Result]:
    """Per (query, path, N): the median of every figure over the rounds."""
    out: list[Result] = []
    for i, first in enumerate(rounds[0]):
        rows = [r[i].row for r in rounds]
        seconds = statistics.median(r.seconds for r in rows)
        out.append(
            Result(
                first.path,
                Row(
                    n=first.row.n,
                    requests=round(statistics.median(r.rps for r in rows) * seconds),
                    seconds=seconds,
                    p50_ms=statistics.median(r.p50_ms for r in rows),
                    p99_ms=statistics.median(r.p99_ms for r in rows),
                    cpu_ms=statistics.median(r.cpu_ms for r in rows),
                    statements=max(r.statements for r in rows),
                    errors=sum(r.errors for r in rows),
                    first_error=next((r.first_error for r in rows if r.first_error), ""),
                ),
                first.query,
                None
                if first.load_cpu_pct is None
                else statistics.median(r[i].load_cpu_pct or 0.0 for r in rounds),
            )
        )
    return out


def print_round_ratios(rounds: list[list[Result]], sizes: list[int], out: Any = sys.stdout) -> None:
    """Compiled vs reference (server CPU per request) in each round: how much it moves."""
    print("\ncompiled vs reference, server CPU per request, round by round:", file=out)
    for query in dict.fromkeys(r.query for r in rounds[0]):
        for n in sizes:
            ratios = []
            for results in rounds:
                by = {(r.query, r.path, r.row.n): r for r in results}
                ref, comp = by.get((query, "reference", n)), by.get((query, "compiled", n))
                if ref and comp and comp.row.cpu_ms:
                    ratios.append(ref.row.cpu_ms / comp.row.cpu_ms)
            if ratios:
                print(
                    f"  {query:<10} N={n:<5} "
                    + " ".join(f"{x:5.1f}x" for x in ratios)
                    + f"   median {statistics.median(ratios):.1f}x",
                    file=out,
                )


async def run(args: argparse.Namespace) -> list[Result]:
    url = normalise_url(args.url)
    sizes = [int(s) for s in args.sizes.split(",")]
    queries = [q for q in args.queries.split(",") if q]
    unknown = [q for q in queries if q not in QUERIES]
    if unknown:
        raise SystemExit(f"unknown --queries {unknown}; choose from {sorted(QUERIES)}")
    need = max(sizes)
    if await _asset_count(url) < need:
        await seed(SeedConfig(url=url, assets=need, days=3, quote_minutes=15, signal_days=1))
    await refresh_quotes(url)
    paths = [p for p in PATHS if p in args.paths.split(",")]
    wrk = args.load == "wrk"
    if wrk:
        wrk_path()  # fail before seeding and starting servers
    concurrency = args.concurrency or (32 if wrk else 2)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        ceiling_data = Path(tmp) / "dashboard.json"
        async with _server(url, "compiled", ceiling_data, need) as (base, _pid):
            await _capture(base, queries, sizes, ceiling_data)
        rounds: list[list[Result]] = []
        for round_no in range(1, args.repeat + 1):
            this_round: list[Result] = []
            for path in paths:  # each round runs every path again, in turn
                cpu = SERVER_CPU if wrk else None
                async with _server(url, path, ceiling_data, need, cpu) as (base, pid):
                    for name in queries:
                        for n in sizes:
                            print(
                                f"  round {round_no}/{args.repeat}: {path} {name} N={n}: "
                                f"{args.duration:.0f} s",
                                file=sys.stderr,
                                flush=True,
                            )
                            this_round.append(
                                await _point(base, pid, path, name, n, concurrency, args)
                            )
            rounds.append(this_round)
    results = rounds[0] if len(rounds) == 1 else medians(rounds)
    print(
        "\none uvicorn worker per path, in-memory data, "
        + (
            f"server on CPU {SERVER_CPU}, wrk -t1 -c{concurrency} on the other"
            if wrk
            else f"{concurrency} keep-alive httpx clients"
        )
        + f", {args.duration:.0f} s per point"
        + (f"; median of {len(rounds)} rounds (paths alternate)" if len(rounds) > 1 else "")
    )
    print_results(results, sizes)
    if len(rounds) > 1:
        print_round_ratios(rounds, sizes)
    for r in results:
        if r.row.first_error:
            print(f"{r.query} {r.path} N={r.row.n}: first error: {r.row.first_error}")
    return results


async def _point(
    base: str, pid: int, path: str, name: str, n: int, concurrency: int, args: argparse.Namespace
) -> Result:
    """One (path, document, N) point under the chosen load generator."""
    if args.load != "wrk":
        row = await load(base, pid, n, args.duration, concurrency, QUERIES[name])
        return Result(path, row, name)
    payload = {"query": QUERIES[name], "variables": {"n": n}}
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        await _query(client, n, QUERIES[name])  # wrk checks little: look at one answer
    point = await load_wrk(base, pid, orjson.dumps(payload), n, args.duration, concurrency)
    if point.row.requests < 4 * concurrency:
        print(
            f"  warning: {path} {name} N={n} completed {point.row.requests} requests in its "
            f"window with {concurrency} connections: under 4 rounds of the queue, so the "
            "figure is lumpy; raise --duration or lower --concurrency",
            file=sys.stderr,
        )
    return Result(path, point.row, name, point.wrk_cpu_pct)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m bench speed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--url", default=DEFAULT_URL, help="database URL (default: data/bench-speed.db)"
    )
    ap.add_argument(
        "--sizes",
        default="10,100,1000",
        help="sizes N (the servers run with max_page_size raised to the largest)",
    )
    ap.add_argument(
        "--queries",
        default="ticker,dashboard",
        help="which documents: ticker (the issue's baseline shape), dashboard (the full one)",
    )
    ap.add_argument("--paths", default=",".join(PATHS), help="which paths to run")
    ap.add_argument("--duration", type=float, default=6.0, help="seconds of load per point")
    ap.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="concurrent keep-alive connections (default: 2 httpx clients; 32 for wrk)",
    )
    ap.add_argument(
        "--load",
        choices=("httpx", "wrk"),
        default="httpx",
        help="load generator: httpx clients sharing the cores (default), or wrk pinned to "
        "CPU 1 with the server on CPU 0 (the speed issue's baseline method)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds: every path runs again in each round; the table shows medians and "
        "the compiled/reference ratio is printed per round (it moves between runs)",
    )
    ap.add_argument("--quick", action="store_true", help="2 s per point, sizes 10,100")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.quick:
        args.duration = min(args.duration, 2.0)
        if args.sizes == "10,100,1000":
            args.sizes = "10,100"
    asyncio.run(run(args))
    return 0
