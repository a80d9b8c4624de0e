"""Real ``cryptoql`` processes for the API-key tests: servers on loopback ports and CLI runs."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.keys.conftest import HMAC_SECRET

ROOT = Path(__file__).resolve().parents[2]
CRYPTOQL = str(Path(sys.executable).with_name("cryptoql"))


def env_for(db_url: str, data_dir: Path, **settings: Any) -> dict[str, str]:
    """The environment a ``cryptoql`` process reads its settings from."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOQL_")}
    env.update(
        {
            "DATABASE_URL": db_url,
            "CRYPTOQL_ENV": "test",
            "CRYPTOQL_AUTO_MIGRATE": "false",
            "CRYPTOQL_KEY_HMAC_SECRET": HMAC_SECRET,
            "CRYPTOQL_DATA_DIR": str(data_dir),
            "CRYPTOQL_LOG_JSON": "true",
        }
    )
    for name, value in settings.items():
        target = "REDIS_URL" if name == "redis_url" else f"CRYPTOQL_{name.upper()}"
        env[target] = str(value)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def running_servers(count: int, env: dict[str, str], log_dir: Path) -> Iterator[list[Server]]:
    """Start ``count`` servers (one uvicorn worker each) and wait until each answers."""
    servers: list[Server] = []
    try:
        for i in range(count):
            port = free_port()
            log = log_dir / f"server{i}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [CRYPTOQL, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            servers.append(Server(f"http://127.0.0.1:{port}", proc, log))
        deadline = time.monotonic() + 60
        for server in servers:
            while True:
                if server.proc.poll() is not None:
                    raise RuntimeError(f"server exited early:\n{server.log_text()[-3000:]}")
                try:
                    if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start:\n{server.log_text()[-3000:]}")
                time.sleep(0.2)
        yield servers
    finally:
        for server in servers:
            _stop(server.proc)


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run ``cryptoql <args>``; returns (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        CRYPTOQL,
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(), err.decode()
