"""Cost-analysis overhead: the dashboard query with and without the cost extension.

    python -m bench cost [--quick] [--url URL] [--n 100] [--rounds 40] [--seed | --no-seed]

Issue 4 asks that pricing, charging and refunding add under 5 % to the
dashboard query's server time. This benchmark measures it in one run:

1. seeds a database (``bench/seed.py``, its own file ``data/bench-cost.db`` by
   default) unless it already has enough assets, then refreshes the quotes;
2. builds the app twice in this process on that database: as shipped (the
   cost extension prices the document, takes the requested cost from an
   in-process budget, computes the actual cost from the response and refunds
   the difference), and with the cost extension removed from the schema;
3. sends the dashboard query (``bench.dashboard.DASHBOARD``, N assets) to both
   apps alternately, round after round (the order flips every round, so
   drift on a shared machine hits both sides alike), through httpx's ASGI
   transport (no sockets: the figure is the server's own work), and reports
   the median wall time and CPU time per request of each and the overhead;
4. times the parts directly: pricing the (cached) document, the actual-cost
   walk over the real response, one reserve + refund, and pricing a
   worst-case document of ``max_tokens`` tokens from scratch.

Budgets are generous (the tier is raised) so every request takes the full
enforce path without being refused; the response cache and ingest are off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from graphql import parse

from app.main import create_app
from app.settings import Settings
from bench.dashboard import DASHBOARD
from bench.seed import SeedConfig, refresh_quotes, seed
from cost.actual import actual_cost
from cost.analysis import estimate, root_type_name
from cost.budget import MemoryBudgetStore, Tier
from cost.model import model_for
from cost.plan import compile_shape
from storage.engine import make_engine, normalise_url

DEFAULT_URL = f"sqlite+aiosqlite:///{Path('data/bench-cost.db').resolve()}"
HUGE = {"anonymous": {"capacity": 1e12, "restore_rate": 1e9}}


def settings_for(url: str) -> Settings:
    return Settings(
        database_url=url,
        env="test",
        auto_migrate=False,
        log_json=False,
        log_level="WARNING",
        ingest_enabled=False,
        response_cache_enabled=False,
        cost_tiers=HUGE,  # type: ignore[arg-type]
        cost_max_operation=10**9,
    )


def graphql_view(app: Any) -> Any:
    for route in app.routes:
        if getattr(route, "path", None) == "/graphql" and hasattr(route, "endpoint"):
            return route.endpoint
    raise RuntimeError("no /graphql route")


def without_cost_extension(app: Any) -> Any:
    from schema.build import _cost_extension

    schema = graphql_view(app).schema
    before = len(schema.extensions)
    schema.extensions = [e for e in schema.extensions if e is not _cost_extension]
    assert len(schema.extensions) == before - 1, "cost extension not found"
    return app


class Running:
    """An app with its lifespan entered and an in-process client."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __aenter__(self) -> httpx.AsyncClient:
        self._lifespan = self.app.router.lifespan_context(self.app)
        state = await self._lifespan.__aenter__()

        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            scope = dict(scope)
            scope["state"] = dict(state or {})
            await self.app(scope, receive, send)

        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi), base_url="http://bench"
        )
        return self._client

    async def __aexit__(self, *exc: Any) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(*exc)


async def one(client: httpx.AsyncClient, n: int) -> tuple[float, float, dict[str, Any]]:
    wall, cpu = time.perf_counter(), time.process_time()
    resp = await client.post("/graphql", json={"query": DASHBOARD, "variables": {"n": n}})
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    body: dict[str, Any] = resp.json()
    if resp.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"dashboard failed: {json.dumps(body)[:500]}")
    return wall * 1000, cpu * 1000, body


async def asset_count(url: str) -> int:
    from sqlalchemy import func, select

    from storage.models import Asset

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count(Asset.id)))).scalar_one())
    except Exception:
        return 0
    finally:
        await engine.dispose()


def timeit(fn: Any, repeat: int) -> float:
    """Median CPU milliseconds of ``fn()`` (this thread: other load on the machine is excluded)."""
    samples = []
    for _ in range(repeat):
        t = time.thread_time()
        fn()
        samples.append((time.thread_time() - t) * 1000)
    return statistics.median(samples)


def worst_case_document(tokens: int) -> str:
    """A valid document of about ``tokens`` tokens: aliased dashboards and spread fragments."""
    unit = (
        "a{i}: assets(first: 250) {{ edges {{ node {{ ...F price {{ value sources {{ source }} }} "
        'candles(interval: "1m", last: 1000) {{ close }} }} }} }} '
    )
    per_unit = 40
    body = " ".join(unit.format(i=i) for i in range(max(1, tokens // per_unit)))
    return "{ " + body + " } fragment F on Asset { symbol market { marketCap } signals { kind } }"


async def parts(
    client: httpx.AsyncClient, schema: Any, n: int, max_tokens: int
) -> dict[str, float]:
    model = model_for(schema)
    shape = compile_shape(parse(DASHBOARD))
    est = estimate(model, shape, {"n": n})
    _, _, body = await one(client, n)
    data = body["data"]
    root = root_type_name(model, shape)
    store, tier = MemoryBudgetStore(), Tier("t", 1e12, 1e9)

    async def budget() -> None:
        await store.take("k", tier, est.total)
        await store.give("k", tier, est.total / 2)

    samples = []
    for _ in range(200):
        t = time.thread_time()
        await budget()
        samples.append((time.thread_time() - t) * 1000)
    worst = worst_case_document(max_tokens)
    worst_doc = parse(worst)
    return {
        "price (cached shape)": timeit(lambda: estimate(model, shape, {"n": n}), 200),
        "actual-cost walk": timeit(
            lambda: actual_cost(model, shape, est.variables, data, root), 200
        ),
        "reserve + refund": statistics.median(samples),
        f"worst case, {max_tokens} tokens, uncached": timeit(
            lambda: estimate(model, compile_shape(worst_doc), None, breakdown=True), 10
        ),
    }


async def run(args: argparse.Namespace) -> dict[str, float]:
    url = normalise_url(args.url)
    if args.seed or (await asset_count(url) < args.n and not args.no_seed):
        cfg = SeedConfig(url=url, assets=max(args.n, 100), days=3, quote_minutes=30, signal_days=1)
        await seed(cfg)
    await refresh_quotes(url)
    settings = settings_for(url)
    with_app = create_app(settings)
    without_app = without_cost_extension(create_app(settings))
    walls: dict[str, list[float]] = {"with": [], "without": []}
    cpus: dict[str, list[float]] = {"with": [], "without": []}
    async with Running(with_app) as with_client, Running(without_app) as without_client:
        clients = {"with": with_client, "without": without_client}
        for client in clients.values():  # warm up: caches, statement compilation
            for _ in range(3):
                await one(client, args.n)
        _, _, sample = await one(with_client, args.n)
        cost = sample["extensions"]["cost"]
        for r in range(args.rounds):
            order = ("with", "without") if r % 2 == 0 else ("without", "with")
            for name in order:
                wall, cpu, _ = await one(clients[name], args.n)
                walls[name].append(wall)
                cpus[name].append(cpu)
        schema = graphql_view(with_app).schema._schema
        timings = await parts(with_client, schema, args.n, settings.max_tokens)

    med = {k: statistics.median(v) for k, v in walls.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    overhead_wall = 100 * (med["with"] - med["without"]) / med["without"]
    overhead_cpu = 100 * (cpu["with"] - cpu["without"]) / cpu["without"]
    backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    print(
        f"\ndashboard query, N={args.n}, {backend}, in-process, {args.rounds} rounds "
        f"(requested cost {cost['requestedQueryCost']}, actual {cost['actualQueryCost']})"
    )
    print(f"{'':<28}{'median wall ms':>16}{'median CPU ms':>16}")
    print(f"{'with cost extension':<28}{med['with']:>16.2f}{cpu['with']:>16.2f}")
    print(f"{'without':<28}{med['without']:>16.2f}{cpu['without']:>16.2f}")
    print(f"{'overhead':<28}{overhead_wall:>15.1f}%{overhead_cpu:>15.1f}%")
    print("\nparts (median CPU ms):")
    for name, ms in timings.items():
        print(f"  {name:<40}{ms:>10.3f}")
    share = (
        100
        * (
            timings["price (cached shape)"]
            + timings["actual-cost walk"]
            + timings["reserve + refund"]
        )
        / cpu["without"]
    )
    print(f"  {'per-request parts, % of the query CPU':<40}{share:>9.2f}%")
    return {
        "overhead_wall_pct": overhead_wall,
        "overhead_cpu_pct": overhead_cpu,
        "parts_pct": share,
    }


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m bench cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--url", default=DEFAULT_URL, help="database URL (default: data/bench-cost.db)")
    ap.add_argument("--n", type=int, default=100, help="dashboard size (assets)")
    ap.add_argument("--rounds", type=int, default=40, help="requests per variant")
    ap.add_argument("--quick", action="store_true", help="N=50, 15 rounds")
    ap.add_argument("--seed", action="store_true", help="always (re)seed first")
    ap.add_argument("--no-seed", action="store_true", help="never seed")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.n, args.rounds = min(args.n, 50), min(args.rounds, 15)
    Path("data").mkdir(exist_ok=True)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
