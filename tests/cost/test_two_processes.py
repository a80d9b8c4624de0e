"""Two real uvicorn processes sharing Redis enforce one budget per caller.

Both servers serve the same SQLite file (migrated and seeded before they
start) and keep budgets in Redis under a prefix unique to this test. The same
anonymous caller (127.0.0.1) spends on one server; the other server sees the
spend and, once the bucket is empty, refuses with 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from storage import migrate
from storage.engine import make_engine, make_session_factory
from tests.conftest import REDIS_TEST_URL
from tests.factories import Factory

ROOT = Path(__file__).resolve().parents[2]
QUERY = "{ assets(first: 5) { nodes { symbol } } }"  # 1 + 5: every slot filled, no refund


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def server(env: dict[str, str]) -> AsyncIterator[str]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - a child server for the test's lifetime
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            for _ in range(300):  # up to 30 s on a busy machine
                if proc.poll() is not None:
                    raise RuntimeError(proc.stderr.read().decode()[-3000:] if proc.stderr else "")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise TimeoutError("server did not start")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture
async def database(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    f = Factory(make_session_factory(engine))
    for i in range(5):
        await f.asset(f"coin-{i}", symbol=f"C{i}", rank=i + 1)
    await engine.dispose()
    return url


@pytest.mark.slow
async def test_two_servers_share_one_budget(database):
    prefix = f"test:{uuid.uuid4().hex}:"
    env = {
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_TEST_URL,
        "CRYPTOQL_ENV": "test",
        "CRYPTOQL_AUTO_MIGRATE": "false",
        "CRYPTOQL_LOG_JSON": "false",
        "CRYPTOQL_COST_REDIS_PREFIX": prefix,
        "CRYPTOQL_PUBSUB_NAMESPACE": prefix,
        "CRYPTOQL_COST_TIERS": json.dumps({"anonymous": {"capacity": 60, "restore_rate": 0.001}}),
    }
    redis = Redis.from_url(REDIS_TEST_URL)
    try:
        async with server(env) as a, server(env) as b, httpx.AsyncClient(timeout=10) as http:

            async def ask(base: str) -> httpx.Response:
                return await http.post(f"{base}/graphql", json={"query": QUERY})

            first = await ask(a)
            assert first.status_code == 200, first.text
            assert first.headers["X-RateLimit-Cost"] == "6"
            assert first.headers["X-RateLimit-Remaining"] == "54"
            # the other process sees the spend
            seen = await http.post(
                f"{b}/graphql", json={"query": "{ rateLimit(dryRun: true) { remaining } }"}
            )
            assert seen.json()["data"]["rateLimit"]["remaining"] == 54
            # spend alternately on both: 8 more queries leave 6 points, one more leaves 0
            for i in range(8):
                resp = await ask(a if i % 2 else b)
                assert resp.status_code == 200, resp.text
            assert (await ask(b)).headers["X-RateLimit-Remaining"] == "0"
            refused = await ask(a)
            assert refused.status_code == 429, refused.text
            assert refused.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
            assert int(refused.headers["Retry-After"]) > 0
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
