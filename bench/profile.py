"""Where a request's CPU goes: the speed bench's app profiled in-process.

    python -m bench profile [--query ticker|dashboard] [--n 100] [--path compiled|reference]
                            [--requests 20] [--top 25]

Serves ``bench/speed_app.py`` (the real application, clock frozen, loader batches
memoised: the same app ``bench speed`` measures) in this process over
``httpx.ASGITransport``, warms it up, measures CPU per request unprofiled
(process time, median of rounds), then runs ``--requests`` requests under
``cProfile`` and prints own time grouped by component — GraphQL execution
(graphql-core, strawberry, our executor and its generated code), our resolvers
and types, the builtins they call, DataLoaders and the event loop, cost
analysis, HTTP/middleware/JSON — followed by the top functions. The in-process
client's own time is left out of the shares. Shares are approximate: the
profiler inflates call-heavy code. Needs the speed bench's database (run
``python -m bench speed`` once, or ``--url``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.dashboard import _server_env

EXECUTION = "GraphQL execution (graphql-core, strawberry, our executor, generated code)"
RESOLVERS = "our resolvers and types"
BUILTINS = "builtins they call"
LOOP = "DataLoaders and the event loop"
COST = "cost analysis and actual cost"
HTTP = "HTTP, middleware, JSON, compression"


def _group(filename: str, name: str) -> str | None:
    """The component a profiled function belongs to (None: the in-process client)."""
    f = filename
    if (
        f.startswith(("<plan", "<resolve"))
        or "/schema/compiled/" in f
        or "site-packages/graphql/" in f
        or "site-packages/strawberry/" in f
    ):
        return EXECUTION
    if "httpx" in f or "importlib" in f or f.startswith("<frozen"):
        return None
    root = str(Path(__file__).resolve().parent.parent) + "/"
    if f.startswith((root + "resolvers/", root + "schema/", root + "storage/")):
        return RESOLVERS
    if f.startswith(root + "cost/"):
        return COST
    if (
        "aiodataloader" in f
        or "asyncio" in f
        or f.startswith(root + "loaders/")
        or "speed_app" in f
    ):
        return LOOP
    if "starlette" in f or f.startswith(root + "app/") or "prometheus" in f or "json" in f:
        return HTTP
    if f == "~":
        if "brotli" in name or "orjson" in name:
            return HTTP
        return BUILTINS
    return "other"


def breakdown(stats: pstats.Stats) -> list[tuple[str, float]]:
    totals: dict[str, float] = defaultdict(float)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        group = _group(filename, name)
        if group is not None:
            totals[group] += tottime
    whole = sum(totals.values()) or 1.0
    return sorted(((g, t / whole) for g, t in totals.items()), key=lambda x: -x[1])


DEFAULT_DB = Path("data/bench-speed.db").resolve()


def app_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """The parser of a bench that serves the speed app in its own process, with the
    options every such bench takes (its own are added by the caller)."""
    ap = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--query", choices=("ticker", "dashboard"), default="ticker")
    ap.add_argument("--n", type=int, default=100, help="assets (first: N)")
    ap.add_argument("--path", choices=("compiled", "reference"), default="compiled")
    ap.add_argument("--url", default=None, help="database URL (default: data/bench-speed.db)")
    return ap


def use_app_env(args: argparse.Namespace) -> bool:
    """Put the speed bench's server environment into this process (the app reads it at
    import); False, with a message, when the bench database is missing."""
    if args.url is None and not DEFAULT_DB.exists():
        print("no data/bench-speed.db: run `python -m bench speed --quick` once", file=sys.stderr)
        return False
    env = _server_env(args.url or f"sqlite+aiosqlite:///{DEFAULT_DB}", response_cache=False)
    env["CRYPTOQL_COMPILED_EXECUTION"] = "false" if args.path == "reference" else "true"
    env["CRYPTOQL_MAX_PAGE_SIZE"] = str(max(250, args.n))
    os.environ.update(env)
    return True


async def run(args: argparse.Namespace) -> None:
    import httpx

    from bench.speed import QUERIES
    from bench.speed_app import app

    query = QUERIES[args.query]
    payload = {"query": query, "variables": {"n": args.n}}

    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            await app(dict(scope, state=dict(state or {})), receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(3):
                resp = await client.post("/graphql", json=payload)
                body = resp.json()
                if resp.status_code != 200 or body.get("errors"):
                    raise SystemExit(f"query failed: {resp.status_code} {resp.text[:300]}")
            samples = []
            for _ in range(args.rounds):
                start = time.process_time()
                for _ in range(args.requests):
                    await client.post("/graphql", json=payload)
                samples.append((time.process_time() - start) / args.requests * 1000)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.requests):
                await client.post("/graphql", json=payload)
            profiler.disable()
    stats = pstats.Stats(profiler)
    print(
        f"{args.query}, N={args.n}, {args.path}: CPU per request (in-process, unprofiled) "
        f"median {statistics.median(samples):.2f} ms, min {min(samples):.2f} ms "
        f"over {args.rounds} rounds of {args.requests}"
    )
    print("\nown time by component (profiled; the in-process client left out):")
    for group, share in breakdown(stats):
        print(f"  {share:6.1%}  {group}")
    if args.top:
        print(f"\ntop {args.top} functions by own time:")
        stats.sort_stats("tottime").print_stats(args.top)
    if args.callers:
        print(f"\nwho calls functions matching {args.callers!r}:")
        stats.sort_stats("tottime").print_callers(args.callers)


def build_parser() -> argparse.ArgumentParser:
    ap = app_parser("python -m bench profile", __doc__)
    ap.add_argument("--requests", type=int, default=20, help="requests per round and profiled")
    ap.add_argument("--rounds", type=int, default=5, help="unprofiled rounds for CPU/request")
    ap.add_argument("--top", type=int, default=25, help="top functions to list (0: none)")
    ap.add_argument(
        "--callers",
        default=None,
        metavar="REGEX",
        help="also list the callers of functions whose name matches REGEX",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not use_app_env(args):
        return 2
    asyncio.run(run(args))
    return 0
