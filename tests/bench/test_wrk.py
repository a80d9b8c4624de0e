"""bench/wrk.py against a real wrk: what it counts as a request, an error and a latency."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import orjson
import pytest

from bench.wrk import load_wrk


class _Answers(BaseHTTPRequestHandler):
    """Every second answer is an HTTP 503, every odd third a GraphQL error (HTTP 200)."""

    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    disable_nagle_algorithm = True  # headers and body go out in two writes
    count: ClassVar[int] = 0
    bodies: ClassVar[list[bytes]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        with self.lock:
            type(self).count += 1
            i = type(self).count
            self.bodies.append(body)
        status, answer = 200, b'{"data":{"ok":true}}'
        if i % 2 == 0:
            status, answer = 503, b"busy"
        elif i % 3 == 0:
            answer = b'{"errors":[{"message":"boom"}],"data":null}'
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(os.cpu_count() == 1, reason="wrk is pinned to CPU 1")
async def test_wrk_counts_requests_errors_and_server_cpu(answering: str) -> None:
    assert shutil.which("wrk"), "scripts/bootstrap.sh dev installs wrk"
    payload = orjson.dumps({"query": "{ ok }", "variables": {"n": 3}})
    row, wrk_cpu = await load_wrk(answering, os.getpid(), payload, 3, 1.0, 2)

    assert _Answers.bodies and all(b == payload for b in _Answers.bodies)  # the body sent
    assert row.n == 3 and row.requests > 60
    assert 0.9 < row.seconds < 2.0
    # wrk counts what arrived in its window; the server answered a few more
    assert row.requests <= _Answers.count
    # three answers in six are HTTP errors and one a GraphQL error
    expected = row.requests * 4 / 6
    assert abs(row.errors - expected) <= 4  # the window cuts the six-answer cycle
    assert row.first_error.startswith(('200 {"errors"', "503 busy"))
    assert 0 < row.p50_ms <= row.p99_ms
    assert row.cpu_ms > 0  # the server is this process: its CPU per request
    assert 0 < wrk_cpu <= 100
