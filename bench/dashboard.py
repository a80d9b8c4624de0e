"""Dashboard benchmark: the N-asset dashboard query against one uvicorn worker.

    python -m bench dashboard [--quick] [--url URL] [--sizes 10,100,250]
                              [--duration 10] [--concurrency 4] [--seed | --no-seed]

The query is the product's headline use: ``assets(first: N)`` ordered by
market cap, each with its consensus price and the per-source quotes behind
it, market figures, latest signals, trader grade and a 24-point hourly
sparkline (see ``DASHBOARD``).

Steps:

1. seed the database unless it already has assets (``bench/seed.py``; a
   year of hourly candles for 500 assets by default, 250 assets and 7 days
   with ``--quick``), then write a fresh round of quotes so prices are live;
2. count SQL statements per request for each N in-process (the app on the
   same database, a listener on its engine), so the figure is exact and
   independent of the load run;
3. start one uvicorn worker (``app.asgi:app``) on a free loopback port, with
   ingestion, query-cost enforcement and the response cache off (the bench
   measures the graph, not the budget or a cache hit; ``--response-cache``
   keeps the cache on), and drive it with ``--concurrency`` keep-alive clients
   for ``--duration`` seconds per N, after a short warm-up;
4. print a table: requests/s, p50/p99 latency, server CPU per request, SQL
   statements per request and per asset, and latency per asset.

The load client runs on the same machine: on 2 shared cores it competes with
the server, so requests/s is a floor, not a ceiling. ``--quick`` keeps the
whole run under about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, func, select

from bench.seed import DEFAULT_URL, SeedConfig, refresh_quotes, seed
from storage.engine import make_engine, normalise_url
from storage.models import Asset

DASHBOARD = """query Dashboard($n: Int!) {
  assets(first: $n, orderBy: {field: MARKET_CAP}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id canonicalId symbol name rank categories
      price { value observedAt ageSeconds stale sourceCount spread method
              sources { source price originalQuote observedAt ageSeconds stale used } }
      market { marketCap volume24h change24h source observedAt }
      signals { kind value direction computedAt source }
      grade { value components { name score weight } }
      candles(interval: "1h", last: 24) { openTime close isComplete }
    } }
  }
}"""

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    n: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    statements: int
    errors: int
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _server_env(url: str, response_cache: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": url,
            "CRYPTOQL_RESPONSE_CACHE_ENABLED": "true" if response_cache else "false",
            "CRYPTOQL_ENV": "production",
            "CRYPTOQL_AUTO_MIGRATE": "false",
            "CRYPTOQL_INGEST_ENABLED": "false",
            "CRYPTOQL_COST_ENFORCE": "false",
            "CRYPTOQL_LOG_LEVEL": "WARNING",
            "CRYPTOQL_KEY_HMAC_SECRET": "bench-only-secret-0123456789abcdef0123",
        }
    )
    return env


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def pinned(cpu: int, cmd: list[str]) -> list[str]:
    """``cmd`` run on one CPU only (taskset execs it, so the pid is the command's)."""
    if os.cpu_count() is None or cpu >= (os.cpu_count() or 1):
        raise SystemExit(f"cannot pin to CPU {cpu}: this machine has {os.cpu_count()} CPUs")
    return ["taskset", "-c", str(cpu), *cmd]


@asynccontextmanager
async def server(
    url: str,
    *,
    response_cache: bool,
    app_path: str = "app.asgi:app",
    env: dict[str, str] | None = None,
    cpu: int | None = None,
) -> AsyncIterator[tuple[str, int]]:
    """One uvicorn worker on a free loopback port; killed on exit; its log in data/.

    ``app_path``/``env`` let other benches serve a variant (bench/speed.py); ``cpu``
    pins the server to that CPU (``taskset``, which execs it: the pid is uvicorn's).
    """
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app_path,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    if cpu is not None:
        cmd = pinned(cpu, cmd)
    log_path = ROOT / "data" / "bench-dashboard-server.log"
    log_path.parent.mkdir(exist_ok=True)
    log_file = log_path.open("w")
    proc = subprocess.Popen(  # noqa: ASYNC220
        cmd,
        cwd=ROOT,
        env=env or _server_env(url, response_cache),
        stdout=log_file,
        stderr=log_file,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2) as client:
            for _ in range(300):
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}; see {log_path}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("server did not become healthy in 30 s")
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log_file.close()


async def count_statements(url: str, n: int) -> int:
    """SQL statements one dashboard request runs, counted in-process on the same database."""
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(
        database_url=url,
        env="test",
        auto_migrate=False,
        cost_enforce=False,
        log_json=False,
        log_level="WARNING",
        ingest_enabled=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        engine = state["engine"]
        count = 0

        def bump(*_a: Any, **_k: Any) -> None:
            nonlocal count
            count += 1

        transport = httpx.ASGITransport(app=_with_state(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await _query(client, n)  # warm caches (schema, statement compilation)
            event.listen(engine.sync_engine, "before_cursor_execute", bump)
            try:
                await _query(client, n)
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", bump)
    return count


def _with_state(app: Any, state: Any) -> Any:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        scope = dict(scope)
        scope["state"] = dict(state or {})
        await app(scope, receive, send)

    return asgi


async def _query(client: httpx.AsyncClient, n: int, query: str = DASHBOARD) -> dict[str, Any]:
    resp = await client.post("/graphql", json={"query": query, "variables": {"n": n}})
    body: dict[str, Any] = resp.json()
    if resp.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"dashboard query failed: {resp.status_code} {str(body)[:300]}")
    got = len(body["data"]["assets"]["edges"])
    if got != n:
        raise RuntimeError(f"asked for {n} assets, got {got}: seed more assets")
    return body


async def load(
    base: str, pid: int, n: int, duration: float, concurrency: int, query: str = DASHBOARD
) -> Row:
    latencies: list[float] = []
    errors = 0
    first_error = ""
    payload = {"query": query, "variables": {"n": n}}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # Uncompressed answers: the figures measure producing the JSON, the same bytes the
    # hand-built ceiling of bench/speed.py sends (compression is the same cost for every
    # path and is measured separately in docs/performance.md).
    headers = {"accept-encoding": "identity"}
    async with httpx.AsyncClient(
        base_url=base, timeout=60, limits=limits, headers=headers
    ) as client:
        for _ in range(2):  # warm-up
            await _query(client, n, query)
        deadline = time.perf_counter() + duration
        cpu0, t0 = _cpu_seconds(pid), time.perf_counter()

        async def worker() -> None:
            nonlocal errors, first_error
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    resp = await client.post("/graphql", json=payload)
                    failed = resp.status_code != 200 or b'"errors"' in resp.content[:64]
                    detail = f"{resp.status_code} {resp.text[:200]}"
                except httpx.HTTPError as exc:
                    failed, detail = True, repr(exc)
                latencies.append(time.perf_counter() - start)
                if failed:
                    errors += 1
                    first_error = first_error or detail

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - t0, _cpu_seconds(pid) - cpu0
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return Row(
        n=n,
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=p99 * 1000,
        cpu_ms=cpu / max(len(latencies), 1) * 1000,
        statements=0,
        errors=errors,
        first_error=first_error,
    )


def print_table(rows: list[Row], out: Any = sys.stdout) -> None:
    head = (
        f"{'N':>5} {'req/s':>8} {'p50 ms':>9} {'p99 ms':>9} {'cpu ms/req':>11} "
        f"{'SQL/req':>8} {'SQL/asset':>10} {'ms/asset':>9} {'requests':>9} {'errors':>7}"
    )
    print(head, file=out)
    print("-" * len(head), file=out)
    for r in rows:
        print(
            f"{r.n:>5} {r.rps:>8.1f} {r.p50_ms:>9.1f} {r.p99_ms:>9.1f} {r.cpu_ms:>11.1f} "
            f"{r.statements:>8} {r.statements / r.n:>10.3f} {r.p50_ms / r.n:>9.2f} "
            f"{r.requests:>9} {r.errors:>7}",
            file=out,
        )


async def _asset_count(url: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count(Asset.id)))).scalar_one())
    except Exception:  # no tables yet
        return 0
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> list[Row]:
    url = normalise_url(args.url)
    sizes = [int(s) for s in args.sizes.split(",")]
    cfg = SeedConfig.quick(url) if args.quick else SeedConfig(url=url)
    have = await _asset_count(url)
    if args.seed or (have < max(sizes) and not args.no_seed):
        await seed(cfg)
    else:
        print(f"using the existing database ({have} assets)", file=sys.stderr)
    await refresh_quotes(url)
    statements = {n: await count_statements(url, n) for n in sizes}
    rows = []
    async with server(url, response_cache=args.response_cache) as (base, pid):
        for n in sizes:
            print(f"  N={n}: {args.duration:.0f} s x {args.concurrency} clients", file=sys.stderr)
            row = await load(base, pid, n, args.duration, args.concurrency)
            row.statements = statements[n]
            rows.append(row)
    backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    cache = "on" if args.response_cache else "off"
    print(
        f"\ndashboard query, one uvicorn worker, {backend}, {args.concurrency} clients, "
        f"response cache {cache}"
    )
    print_table(rows)
    for r in rows:
        if r.first_error:
            print(f"N={r.n}: first error: {r.first_error}")
    return rows


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m bench dashboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--url", default=DEFAULT_URL, help="database URL (default: data/bench.db)")
    ap.add_argument("--sizes", default="10,100,250", help="dashboard sizes N (comma-separated)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of load per N")
    ap.add_argument("--concurrency", type=int, default=4, help="concurrent keep-alive clients")
    ap.add_argument("--quick", action="store_true", help="small seed, 5 s per N, 2 clients")
    ap.add_argument("--seed", action="store_true", help="always (re)seed first")
    ap.add_argument("--no-seed", action="store_true", help="never seed (use the database as is)")
    ap.add_argument(
        "--response-cache",
        action="store_true",
        help="keep the server's response cache on (off by default: measure the graph itself)",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.quick:
        if args.duration == 10.0:
            args.duration = 5.0
        if args.concurrency == 4:
            args.concurrency = 2
        if args.url == DEFAULT_URL:
            args.url = f"sqlite+aiosqlite:///{Path('data/bench-quick.db').resolve()}"
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
