"""A real server for the transport tests: ``cryptoql serve`` (uvicorn) on a loopback port.

The process is started exactly as users start it (the CLI, settings from the
environment), on a free 127.0.0.1 port, with its log captured to a file the
tests read back. It is stopped by its pid (SIGTERM, then SIGKILL) whatever the
test does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.conftest import make_settings, running_app

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def alive(self) -> bool:
        return self.proc.poll() is None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def live_server(db_url: str, workdir: Path, **settings: Any) -> Iterator[LiveServer]:
    """Serve the app from a child process; ``settings`` become CRYPTOQL_* variables."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOQL_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(
        CRYPTOQL_DATABASE_URL=db_url,
        CRYPTOQL_DATA_DIR=str(workdir),
        CRYPTOQL_ENV="test",
        CRYPTOQL_AUTO_MIGRATE="false",
        CRYPTOQL_LOG_JSON="true",
    )
    for key, value in settings.items():
        env[f"CRYPTOQL_{key.upper()}"] = value if isinstance(value, str) else str(value).lower()
    log_path = workdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(port=port, proc=proc, log_path=log_path)
    try:
        deadline = time.monotonic() + 180  # imports are slow on a loaded 2-core box
        while True:
            if proc.poll() is not None:
                raise RuntimeError("server exited:\n" + "\n".join(server.log_lines()[-40:]))
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" + "\n".join(server.log_lines()[-40:]))
            time.sleep(0.1)
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def server_db(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database for the shared live server (read-only tests)."""
    path = tmp_path_factory.mktemp("live") / "live.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def server(server_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server (test settings: GraphiQL and introspection on) shared by a session."""
    with live_server(server_db, tmp_path_factory.mktemp("srv")) as srv:
        yield srv


@pytest.fixture(scope="session")
async def http(server_db: str) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client for transport tests that never touch data (SQLite only).

    The behaviour under test (parsing, negotiation, limits, error bodies) is the
    same on both backends, so one app serves the whole session; tests that read
    or break data use the ``api``/``db`` fixtures, which run on both.
    """
    async with running_app(create_app(make_settings(server_db))) as client:
        yield client
