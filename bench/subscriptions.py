"""Subscription fan-out at scale: N WebSocket subscribers on one server process.

    .venv/bin/python -m bench.subscriptions [--levels 1000,5000,10000] [--assets 100]
        [--duration 20] [--slow 0] [--keep]

What it does:

1. seeds a SQLite database with ``--assets`` assets and starts ``cryptoql serve``
   (one uvicorn worker) with the Redis broker under a fresh namespace, ingest
   off and the cost budgets in measure mode (anonymous load clients would
   otherwise be throttled, which is the cost model working, not fan-out);
2. runs a feed in this process that publishes one tick per second per asset,
   spread evenly over each second, through Redis (so the server does the
   real listener → topic → render → socket path);
3. opens subscribers with the lean client in ``bench/ws_load.py`` — subscriber
   ``i`` watches asset ``i % assets``, all with the same document, so there are
   ``--assets`` shared topics — ramping to each level, and at each level
   records ``--duration`` seconds of:

   * server CPU per delivered message (``/proc/<pid>/stat`` utime+stime ÷
     messages received by all clients),
   * delivery latency publish → client receipt, p50 / p99 (the event's ``ts``
     is the broker's publish time; one host clock),
   * server memory per connection (RSS growth since the baseline ÷ N),
   * messages dropped: sequence gaps seen by clients, plus the server's
     dropped and conflated frame counters (``/metrics``).

``--slow K`` adds K subscribers that stop reading (raw sockets never read),
to compare healthy latency with and without them.

``--soak N`` instead runs N connect / init / subscribe / close cycles (50 in
parallel, a tenth leaving with ``complete`` first) and compares the server's
open file descriptors, RSS and connection/subscription gauges before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.ws_load import LoadStats, Subscriber, open_subscribers, percentile
from pubsub import channels, messages
from pubsub.redis import RedisBroker
from storage import migrate
from storage.engine import make_engine, make_session_factory

REPO = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("CRYPTOQL_BENCH_REDIS", "redis://127.0.0.1:6379/15")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def seed(url: str, n: int) -> list[str]:
    from storage.models import Asset

    engine = make_engine(url)
    ids = [f"asset-{i:04d}" for i in range(n)]
    try:
        sessions = make_session_factory(engine)
        async with sessions() as session, session.begin():
            session.add_all(
                Asset(canonical_id=a, symbol=f"A{i}", name=f"Asset {i}") for i, a in enumerate(ids)
            )
    finally:
        await engine.dispose()
    return ids


def start_server(
    db_url: str, workdir: Path, namespace: str, extra: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOQL_")}
    env.update(
        CRYPTOQL_DATABASE_URL=db_url,
        CRYPTOQL_DATA_DIR=str(workdir),
        CRYPTOQL_ENV="development",
        CRYPTOQL_AUTO_MIGRATE="false",
        CRYPTOQL_LOG_LEVEL="WARNING",
        CRYPTOQL_INGEST_ENABLED="false",
        CRYPTOQL_REDIS_URL=REDIS_URL,
        CRYPTOQL_PUBSUB_NAMESPACE=namespace,
        CRYPTOQL_KEY_INVALIDATION_CHANNEL=f"{namespace}keys",
        CRYPTOQL_COST_BUDGET_BACKEND="memory",
        CRYPTOQL_COST_ENFORCE="false",
        CRYPTOQL_WS_MAX_CONNECTIONS_PER_KEY="100000",
        CRYPTOQL_WS_MAX_SUBSCRIPTIONS_PER_KEY="100000",
    )
    env.update(extra or {})
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((workdir / "server.log").read_text()[-3000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def gauges(port: int) -> dict[str, float]:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    out = {}
    for name in ("cryptoql_ws_connections", "cryptoql_ws_subscriptions"):
        m = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
        out[name] = float(m.group(1)) if m else float("nan")
    return out


async def soak(url: str, port: int, pid: int, cycles: int, assets: list[str]) -> None:
    from websockets.asyncio.client import connect

    doc = "subscription P($ids: [String!]!) { prices(assetIds: $ids) { seq ts } }"

    async def cycle(i: int) -> None:
        async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send('{"type":"connection_init"}')
            await ws.recv()
            payload = {"query": doc, "variables": {"ids": [assets[i % len(assets)]]}}
            await ws.send(orjson.dumps({"type": "subscribe", "id": "1", "payload": payload}))
            if i % 10 == 0:
                await ws.send('{"type":"complete","id":"1"}')

    async def run_cycles(n: int) -> float:
        t0 = time.monotonic()
        for start in range(0, n, 50):
            await asyncio.gather(*(cycle(start + k) for k in range(min(50, n - start))))
        return time.monotonic() - t0

    await run_cycles(500)  # warm-up
    await asyncio.sleep(2)
    fds0, rss0, g0 = open_fds(pid), rss_mb(pid), await gauges(port)
    took = 0.0
    step = max(1, cycles // 4)
    for done in range(step, cycles + 1, step):
        took += await run_cycles(step)
        print(f"  after {done} cycles: server RSS {rss_mb(pid):.1f} MB, fds {open_fds(pid)}")
    await asyncio.sleep(3)
    fds1, rss1, g1 = open_fds(pid), rss_mb(pid), await gauges(port)
    print(f"{cycles} cycles in {took:.0f} s ({cycles / took:.0f}/s)")
    print(f"server fds {fds0} -> {fds1}; RSS {rss0:.1f} -> {rss1:.1f} MB; gauges {g0} -> {g1}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def server_counters(port: int) -> dict[str, float]:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    out: dict[str, float] = {}
    for name in (
        "cryptoql_ws_frames_dropped_total",
        "cryptoql_ws_frames_conflated_total",
        "cryptoql_live_renders_total",
        "cryptoql_live_render_seconds_total",
        "cryptoql_live_events_total",
    ):
        m = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
        out[name] = float(m.group(1)) if m else float("nan")
    return out


async def feed(broker: RedisBroker, assets: list[str], stop: asyncio.Event) -> None:
    """One tick per second per asset, evenly spread over the second."""
    step = 1.0 / len(assets)
    n = 0
    next_at = time.monotonic()
    while not stop.is_set():
        asset = assets[n % len(assets)]
        price = Decimal(1000 + (n // len(assets)) % 500)
        await broker.publish(
            channels.prices(asset),
            messages.price_tick(
                asset=asset,
                quote="USD",
                source=f"bench{n % 3}",
                price=price,
                observed_at=datetime.now(UTC),
            ),
        )
        n += 1
        next_at += step
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def stalled(url: str, k: int) -> list[socket.socket]:
    """K subscribers that never read after subscribing (see tests/subscriptions)."""
    from tests.subscriptions.test_slow_consumers import StalledClient

    clients = [StalledClient(url) for _ in range(k)]
    for c in clients:
        await c.open(["asset-0000"], 'subscription { prices(assetIds: ["asset-0000"]) { seq ts } }')
    return [c.sock for c in clients]


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="cq-bench-subs-"))
    db_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await asyncio.to_thread(migrate.upgrade, db_url)
    assets = await seed(db_url, args.assets)
    namespace = f"bench:{uuid.uuid4().hex[:8]}:"
    extra = {"CRYPTOQL_GC_TUNING": "false"} if args.no_gc_tuning else {}
    proc, port = start_server(db_url, workdir, namespace, extra)
    url = f"ws://127.0.0.1:{port}/graphql"
    print(f"server pid {proc.pid} on {url}; {args.assets} assets, 1 tick/s each")
    broker = RedisBroker(REDIS_URL, namespace=namespace)
    await broker.start()
    stop = asyncio.Event()
    feeder = asyncio.create_task(feed(broker, assets, stop))
    stats = LoadStats()
    subs: list[Subscriber] = []
    slow_socks: list[socket.socket] = []
    try:
        await asyncio.sleep(2)
        if args.soak:
            await soak(url, port, proc.pid, args.soak, assets)
            return
        base_rss = rss_mb(proc.pid)
        print(f"baseline server RSS {base_rss:.1f} MB")
        print(
            "level  msgs/s  cpu_ms/msg  cpu%  p50_ms  p99_ms  max_ms  rss_MB  KB/conn  "
            "gaps  dropped  conflated  render_ms"
        )
        for level in args.levels:
            t_ramp = time.monotonic()
            more = await open_subscribers(
                url,
                level - len(subs),
                lambda i: {"ids": [assets[i % len(assets)]]},
                stats,
                start=len(subs),
                concurrency=args.concurrency,
            )
            subs.extend(more)
            ramp = time.monotonic() - t_ramp
            if args.slow and not slow_socks:
                slow_socks = await stalled(url, args.slow)
            # The load client holds 10,000 sockets too: keep its own GC pauses out of
            # the receipt timestamps (it is a short-lived measuring tool).
            gc.collect()
            gc.freeze()
            gc.set_threshold(200_000, 50, 1000)
            await asyncio.sleep(args.settle)
            before = await server_counters(port)
            cpu0 = cpu_seconds(proc.pid)
            client0 = time.process_time()
            stats.reset_window()
            stats.recording = True
            t0 = time.monotonic()
            await asyncio.sleep(args.duration)
            stats.recording = False
            elapsed = time.monotonic() - t0
            cpu = cpu_seconds(proc.pid) - cpu0
            client_cpu = (time.process_time() - client0) / elapsed * 100
            after = await server_counters(port)
            msgs = stats.messages
            rss = rss_mb(proc.pid)
            lat = stats.latencies
            renders = after["cryptoql_live_renders_total"] - before["cryptoql_live_renders_total"]
            render_s = (
                after["cryptoql_live_render_seconds_total"]
                - before["cryptoql_live_render_seconds_total"]
            )
            print(
                f"{level:5d}  {msgs / elapsed:6.0f}  {cpu / max(msgs, 1) * 1000:10.3f}  "
                f"{cpu / elapsed * 100:4.0f}  {percentile(lat, 0.5) * 1000:6.1f}  "
                f"{percentile(lat, 0.99) * 1000:6.1f}  {max(lat, default=0) * 1000:6.0f}  "
                f"{rss:6.0f}  {(rss - base_rss) * 1024 / level:7.1f}  {stats.gaps:4d}  "
                f"{after['cryptoql_ws_frames_dropped_total']:7.0f}  "
                f"{after['cryptoql_ws_frames_conflated_total']:9.0f}  "
                f"{render_s / max(renders, 1) * 1000:9.3f}"
                f"   (ramp {ramp:.0f} s, live {stats.live}, closed {stats.closed}, "
                f"load client cpu {client_cpu:.0f}%)",
                flush=True,
            )
    finally:
        stop.set()
        feeder.cancel()
        for s in subs:
            if s.transport is not None:
                s.transport.close()
        for sock in slow_socks:
            sock.close()
        await broker.aclose()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--levels",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1000, 5000, 10000],
        help="subscriber counts to ramp through",
    )
    p.add_argument("--assets", type=int, default=100, help="assets (topics), 1 tick/s each")
    p.add_argument("--duration", type=float, default=20.0, help="seconds recorded per level")
    p.add_argument("--settle", type=float, default=3.0, help="seconds after a ramp")
    p.add_argument("--concurrency", type=int, default=20, help="handshakes in flight")
    p.add_argument("--slow", type=int, default=0, help="subscribers that stop reading")
    p.add_argument("--soak", type=int, default=0, help="run N connect/subscribe/close cycles")
    p.add_argument("--no-gc-tuning", action="store_true", help="server with default GC settings")
    p.add_argument("--keep", action="store_true", help="keep the work dir (server log)")
    args: Any = p.parse_args(argv)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
