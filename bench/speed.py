"""Speed bench: the dashboard query through every execution path, in one run.

    python -m bench speed [--quick] [--sizes 10,100,250] [--duration 6] [--concurrency 4]

For each N it drives one uvicorn worker per path with the same dashboard query
(``bench.dashboard.DASHBOARD``: N assets, each with consensus price and its
sources, market, signals, grade and a 24-point sparkline):

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
between paths measured in this same run. The load client shares the 2 cores
with the server: requests/s is a floor; CPU per request is the cleaner figure.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.dashboard import DASHBOARD, Row, _asset_count, _server_env, load, server
from bench.seed import SeedConfig, refresh_quotes, seed
from storage.engine import normalise_url

DEFAULT_URL = f"sqlite+aiosqlite:///{Path('data/bench-speed.db').resolve()}"
PATHS = ("reference", "compiled", "cache", "ceiling")


@dataclass
class Result:
    path: str
    row: Row

    @property
    def cpu_us_per_asset(self) -> float:
        return self.row.cpu_ms * 1000 / self.row.n


def _env(url: str, path: str, ceiling_data: Path) -> tuple[str, dict[str, str]]:
    env = _server_env(url, response_cache=path == "cache")
    env["CRYPTOQL_COMPILED_EXECUTION"] = "false" if path == "reference" else "true"
    env["CRYPTOQL_BENCH_CEILING_DATA"] = str(ceiling_data)
    app = "bench.ceiling_app:app" if path == "ceiling" else "bench.speed_app:app"
    return app, env


@asynccontextmanager
async def _server(url: str, path: str, ceiling_data: Path) -> AsyncIterator[tuple[str, int]]:
    app, env = _env(url, path, ceiling_data)
    async with server(url, response_cache=path == "cache", app_path=app, env=env) as running:
        yield running


async def _capture(base: str, sizes: list[int], target: Path) -> None:
    """The compiled server's answers, for the hand-built ceiling to rebuild."""
    captured: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for n in sizes:
            resp = await client.post("/graphql", json={"query": DASHBOARD, "variables": {"n": n}})
            body = resp.json()
            if body.get("errors"):
                raise RuntimeError(f"dashboard failed: {str(body['errors'])[:300]}")
            body.pop("extensions", None)
            captured[str(n)] = body
    await asyncio.to_thread(target.write_bytes, orjson.dumps(captured))


def print_results(results: list[Result], sizes: list[int], out: Any = sys.stdout) -> None:
    head = (
        f"{'path':<10} {'N':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'cpu ms/req':>11} {'cpu us/asset':>13} {'errors':>7}"
    )
    print(head, file=out)
    print("-" * len(head), file=out)
    for r in results:
        row = r.row
        print(
            f"{r.path:<10} {row.n:>5} {row.rps:>9.1f} {row.p50_ms:>8.2f} {row.p99_ms:>8.2f} "
            f"{row.cpu_ms:>11.3f} {r.cpu_us_per_asset:>13.1f} {row.errors:>7}",
            file=out,
        )
    by = {(r.path, r.row.n): r for r in results}
    print("\nratios in this run (req/s, and server CPU per request):", file=out)
    for n in sizes:
        ref = by.get(("reference", n))
        for path in ("compiled", "cache", "ceiling"):
            r = by.get((path, n))
            if ref and r and ref.row.rps and r.row.cpu_ms:
                print(
                    f"  N={n:<5} {path:<9} vs reference: {r.row.rps / ref.row.rps:6.1f}x req/s, "
                    f"{ref.row.cpu_ms / r.row.cpu_ms:6.1f}x less CPU",
                    file=out,
                )
        cache, ceiling = by.get(("cache", n)), by.get(("ceiling", n))
        if cache and ceiling and ceiling.row.rps:
            print(
                f"  N={n:<5} cache reaches {cache.row.rps / ceiling.row.rps:6.1%} of the "
                f"hand-built ceiling's req/s",
                file=out,
            )
    for path in ("reference", "compiled"):
        per = [by[(path, n)].cpu_us_per_asset for n in sizes if (path, n) in by]
        if len(per) >= 2 and min(per):
            print(
                f"  {path}: CPU per asset from N={sizes[0]} to N={sizes[-1]}: "
                + " -> ".join(f"{p:.1f}" for p in per)
                + f" us (max/min {max(per) / min(per):.2f})",
                file=out,
            )


async def run(args: argparse.Namespace) -> list[Result]:
    url = normalise_url(args.url)
    sizes = [int(s) for s in args.sizes.split(",")]
    need = max(sizes)
    if await _asset_count(url) < need:
        await seed(SeedConfig(url=url, assets=need, days=3, quote_minutes=15, signal_days=1))
    await refresh_quotes(url)
    paths = [p for p in PATHS if p in args.paths.split(",")]
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        ceiling_data = Path(tmp) / "dashboard.json"
        async with _server(url, "compiled", ceiling_data) as (base, _pid):
            await _capture(base, sizes, ceiling_data)
        for path in paths:
            async with _server(url, path, ceiling_data) as (base, pid):
                for n in sizes:
                    print(f"  {path} N={n}: {args.duration:.0f} s", file=sys.stderr, flush=True)
                    row = await load(base, pid, n, args.duration, args.concurrency)
                    results.append(Result(path, row))
    print(
        f"\ndashboard query, one uvicorn worker per path, in-memory data, "
        f"{args.concurrency} keep-alive clients, {args.duration:.0f} s per point"
    )
    print_results(results, sizes)
    for r in results:
        if r.row.first_error:
            print(f"{r.path} N={r.row.n}: first error: {r.row.first_error}")
    return results


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
        default="10,100,250",
        help="dashboard sizes N, each <= 250 (the API bounds first)",
    )
    ap.add_argument("--paths", default=",".join(PATHS), help="which paths to run")
    ap.add_argument("--duration", type=float, default=6.0, help="seconds of load per point")
    ap.add_argument("--concurrency", type=int, default=4, help="concurrent keep-alive clients")
    ap.add_argument("--quick", action="store_true", help="2 s per point, sizes 10,100")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.quick:
        args.duration = min(args.duration, 2.0)
        if args.sizes == "10,100,250":
            args.sizes = "10,100"
    asyncio.run(run(args))
    return 0
