"""The response cache against Python's HTTP ceiling, in one run.

    .venv/bin/python -m bench.cache [--assets 100] [--seconds 2] [--rounds 3]
                                    [--concurrency 16] [--skip-uncached]

What runs, against uvicorn processes (one worker each, access log off) on the
same seeded SQLite database, with the same load client, in interleaved rounds
(the median round is reported, so drifting load from other processes on the
machine affects every run alike):

* ``cache POST``: the dashboard query (``--assets`` assets, each with three
  scalars, a price object of four fields and three signals of three fields)
  POSTed as text, response cache on;
* ``cache GET``: the same as an APQ hash-only GET (what browsers and CDNs
  send), response cache on;
* ``cache asOf``: the same read pinned by ``asOf`` (a second ago), so the
  answer is not recomputed every second: the cost of a hit alone;
* ``uncached POST``: the same POST with the response cache off (the reference
  path, for scale; ``--skip-uncached`` leaves it out);
* ``ceiling``: a bare Starlette endpoint that decodes the request body with
  orjson and returns the same answer built with ``orjson.dumps`` (the
  hand-built-JSON ceiling of issue 6).

The load client is a small keep-alive HTTP/1.1 client (asyncio, ``--concurrency``
connections) in this process. Printed per run: requests/s, p50/p99 latency,
server CPU per request (user+system time of the server process from
``/proc``), the cache hit ratio where it applies, and the ratios to the
ceiling. Live answers are kept 1 s (``response_cache_live_ttl_seconds``), so a
run of several seconds includes one miss per second, as a polled dashboard
would. The machine is shared: treat absolute figures as indicative, the
ratios from one run as the result.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import insert

from storage import migrate
from storage.engine import make_engine, make_session_factory
from storage.models import Asset, Quote, SignalValue

DASHBOARD = """query Dashboard($n: Int!) {
  assets(first: $n, orderBy: {field: RANK}) {
    nodes {
      canonicalId symbol name
      price { value observedAt stale sourceCount }
      signals { kind value direction }
    }
  }
}"""
HASH = hashlib.sha256(DASHBOARD.encode()).hexdigest()
#: the same read pinned by ``asOf``: kept until data changes, not just 1 s
DASHBOARD_AT = DASHBOARD.replace(
    "query Dashboard($n: Int!)", "query Dashboard($n: Int!, $at: DateTime)"
)
DASHBOARD_AT = DASHBOARD_AT.replace("orderBy: {field: RANK})", "orderBy: {field: RANK}, asOf: $at)")
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ data


async def seed(url: str, n: int) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    async with sessions() as s:
        await s.execute(
            insert(Asset),
            [
                {"canonical_id": f"coin-{i:04d}", "symbol": f"C{i}", "name": f"Coin {i}", "rank": i}
                for i in range(1, n + 1)
            ],
        )
        quotes, signals = [], []
        for i in range(1, n + 1):
            for src, price in (("coingecko", 100 + i), ("coinbase", 100.5 + i)):
                quotes.append(
                    {
                        "source": src,
                        "asset_id": i,
                        "quote_currency": "USD",
                        "price": str(price),
                        "market_cap": str(1000 * i),
                        "observed_at": now - timedelta(seconds=20),
                    }
                )
            for kind, value in (("rsi", "55.5"), ("macd", "0.3"), ("trader_grade", "71.25")):
                signals.append(
                    {
                        "source": "cryptoql",
                        "asset_id": i,
                        "kind": kind,
                        "value": value,
                        "direction": "bullish",
                        "horizon": "1h",
                        "computed_at": now - timedelta(minutes=30),
                    }
                )
        await s.execute(insert(Quote), quotes)
        await s.execute(insert(SignalValue), signals)
        await s.commit()
    await engine.dispose()


# ------------------------------------------------------------------ servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_server(target: str, env: dict[str, str], *, factory: bool = False) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "30"]
    if factory:
        cmd.append("--factory")
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT)
    server = Server(proc, port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{target} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{target} did not start")


def api_env(db_url: str, data_dir: str, *, cache: bool) -> dict[str, str]:
    tiers = {"anonymous": {"capacity": 1e12, "restore_rate": 1e12}}
    return {
        "CRYPTOQL_DATABASE_URL": db_url,
        "CRYPTOQL_DATA_DIR": data_dir,
        "CRYPTOQL_ENV": "development",
        "CRYPTOQL_AUTO_MIGRATE": "false",
        "CRYPTOQL_INGEST_ENABLED": "false",
        "CRYPTOQL_LOG_LEVEL": "WARNING",
        "CRYPTOQL_REDIS_URL": "",
        "REDIS_URL": "",
        "CRYPTOQL_COST_TIERS": json.dumps(tiers),
        "CRYPTOQL_RESPONSE_CACHE_ENABLED": "true" if cache else "false",
    }


def ceiling_app() -> Any:
    """The hand-built-JSON endpoint (``uvicorn --factory bench.cache:ceiling_app``)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    answer = orjson.loads(Path(os.environ["BENCH_CEILING_BODY"]).read_bytes())

    async def graphql(request: Request) -> Response:
        if request.method == "POST":
            orjson.loads(await request.body())
        return Response(orjson.dumps(answer), media_type="application/json")

    return Starlette(routes=[Route("/graphql", graphql, methods=["GET", "POST"])])


# ------------------------------------------------------------------ load


def post_request(port: int, body: bytes) -> bytes:
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def get_request(port: int, path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n"
    ).encode()


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu: float
    hits: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu / max(1, self.requests) * 1000


async def _worker(
    port: int, payload: bytes, until: float, measure_from: float, out: Result
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (start := time.perf_counter()) < until:
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            hit = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value)
                elif lname == b"x-cache":
                    hit = value.strip() == b"hit"
            if length:
                await reader.readexactly(length)
            if start < measure_from:
                continue
            out.requests += 1
            out.latencies.append(time.perf_counter() - start)
            out.errors += status != 200
            out.hits += hit
    finally:
        writer.close()


async def load(
    name: str, server: Server, payload: bytes, seconds: float, concurrency: int
) -> Result:
    warmup = 1.0
    t0 = time.perf_counter()
    measure_from, until = t0 + warmup, t0 + warmup + seconds
    result = Result(name, 0, 0, seconds, [], 0.0)
    cpu_task = asyncio.create_task(_cpu_at(server, measure_from, until))
    await asyncio.gather(
        *(_worker(server.port, payload, until, measure_from, result) for _ in range(concurrency))
    )
    result.cpu = await cpu_task
    return result


async def _cpu_at(server: Server, start: float, end: float) -> float:
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    before = server.cpu_seconds()
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    return server.cpu_seconds() - before


# ------------------------------------------------------------------ runs


async def run(args: argparse.Namespace) -> list[Result]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    db_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    servers: list[Server] = []
    try:
        await asyncio.to_thread(migrate.upgrade, db_url)
        await seed(db_url, args.assets)
        variables = {"n": args.assets}
        post_body = orjson.dumps({"query": DASHBOARD, "variables": variables})
        ext = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": HASH}})
        query = httpx.QueryParams({"variables": json.dumps(variables), "extensions": ext})
        get_path = f"/graphql?{query}"
        at = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        pinned = orjson.dumps({"query": DASHBOARD_AT, "variables": {**variables, "at": at}})

        api = start_server("app.asgi:app", api_env(db_url, str(tmp), cache=True))
        servers.append(api)
        async with httpx.AsyncClient(timeout=60) as client:
            first = {"query": DASHBOARD, "variables": variables, "extensions": json.loads(ext)}
            registered = await client.post(f"http://127.0.0.1:{api.port}/graphql", json=first)
        answer = registered.json()
        if "errors" in answer or len(answer["data"]["assets"]["nodes"]) != args.assets:
            raise RuntimeError(f"unexpected answer: {registered.text[:300]}")
        body_file = tmp / "answer.json"
        body_file.write_bytes(orjson.dumps({"data": answer["data"]}))
        ceiling = start_server(
            "bench.cache:ceiling_app", {"BENCH_CEILING_BODY": str(body_file)}, factory=True
        )
        servers.append(ceiling)
        runs = [
            ("cache POST", api, post_request(api.port, post_body)),
            ("cache GET", api, get_request(api.port, get_path)),
            ("cache asOf", api, post_request(api.port, pinned)),
            ("ceiling", ceiling, post_request(ceiling.port, post_body)),
        ]
        # Interleaved rounds: the load other processes put on the machine drifts, and
        # every run should see the same drift; the median round is reported.
        rounds: dict[str, list[Result]] = {name: [] for name, _, _ in runs}
        for _ in range(args.rounds):
            for name, server, payload in runs:
                rounds[name].append(
                    await load(name, server, payload, args.seconds, args.concurrency)
                )
        results = [_median(rs) for rs in rounds.values()]
        if not args.skip_uncached:
            ref = start_server("app.asgi:app", api_env(db_url, str(tmp), cache=False))
            servers.append(ref)
            payload = post_request(ref.port, post_body)
            conns = min(4, args.concurrency)
            results.insert(3, await load("uncached POST", ref, payload, args.seconds, conns))
        return results
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _median(results: list[Result]) -> Result:
    """The round with the median throughput (its latencies and CPU belong to it)."""
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


def report(results: list[Result], args: argparse.Namespace) -> None:
    ceiling = next(r for r in results if r.name == "ceiling")
    print(
        f"\ndashboard query, {args.assets} assets, median of {args.rounds} rounds of "
        f"{args.seconds:g} s, "
        f"{args.concurrency} connections (cpu count {os.cpu_count()}, "
        f"load {os.getloadavg()[0]:.1f})"
    )
    header = (
        f"{'run':<14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/req':>11} "
        f"{'hit %':>6} {'errors':>6} {'x ceiling':>10} {'cpu x ceiling':>14}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        cached = r.requests and r.name.startswith("cache")
        hits = f"{100 * r.hits / r.requests:.1f}" if cached else ""
        print(
            f"{r.name:<14} {r.rps:>9.0f} {r.pct(0.5):>8.2f} {r.pct(0.99):>8.2f} "
            f"{r.cpu_ms:>11.3f} {hits:>6} {r.errors:>6} {r.rps / ceiling.rps:>10.2f} "
            f"{r.cpu_ms / ceiling.cpu_ms:>14.2f}"
        )
    for r in results:
        if r.name.startswith("cache") and r.requests:
            share = r.rps / ceiling.rps
            verdict = "meets" if share >= 0.5 else "misses"
            print(f"{r.name}: {share:.1%} of the ceiling's requests/s ({verdict} the 50% goal)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100, help="assets in the answer (1-250)")
    parser.add_argument("--seconds", type=float, default=2.0, help="measured seconds per run")
    parser.add_argument("--concurrency", type=int, default=16, help="client connections")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--skip-uncached", action="store_true", help="leave out the slow run")
    args = parser.parse_args()
    if not 1 <= args.assets <= 250:
        parser.error("--assets must be 1-250 (the page size limit of `assets`)")
    try:  # the load client should cost as little CPU as it can: the machine is shared
        import uvloop

        results = uvloop.run(run(args))
    except ImportError:
        results = asyncio.run(run(args))
    report(results, args)


if __name__ == "__main__":
    main()
