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

from bench.wrk import Window, load_wrk, steady_window


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
    point = await load_wrk(answering, os.getpid(), payload, 3, 2.0, 2)
    row = point.row

    assert _Answers.bodies and all(b == payload for b in _Answers.bodies)  # the body sent
    assert row.n == 3 and row.seconds == 2.0
    # the window's whole seconds hold part of the run; the server answered them all
    assert 60 < row.requests < point.run_requests <= _Answers.count
    # three answers in six are HTTP errors and one a GraphQL error (whole run)
    assert abs(row.errors - point.run_requests * 4 / 6) <= 4  # the run cuts the cycle
    assert row.first_error.startswith(('200 {"errors"', "503 busy"))
    assert 0 < row.p50_ms <= row.p99_ms
    assert row.cpu_ms > 0  # the server is this process: its CPU per request
    assert 0 < point.wrk_cpu_pct <= 100


def test_steady_window_counts_whole_seconds_after_the_queue_fills() -> None:
    per_second = {100: 3, 101: 10, 103: 23, 104: 9, 105: 2}  # 102: a wave still running
    cpu_at = {100: 0.5, 101: 1.0, 102: 1.5, 103: 2.0, 104: 2.6, 105: 3.0}
    window = steady_window(per_second, cpu_at, started=99.4, skip=2, seconds=2)
    # started in 99, first whole second 100, 100 and 101 skipped: seconds 102 and 103,
    # the CPU between boundaries 102 and 104
    assert window == Window(first=102, seconds=2, requests=23, server_cpu=pytest.approx(1.1))
    with pytest.raises(RuntimeError, match="does not cover"):  # wrk stopped before 106
        steady_window(per_second, cpu_at, started=99.4, skip=2, seconds=4)
    with pytest.raises(RuntimeError, match="does not cover"):
        steady_window(per_second, {102: 1.5}, started=99.4, skip=2, seconds=2)
    with pytest.raises(RuntimeError, match="no request"):
        steady_window({}, cpu_at, started=99.4, skip=2, seconds=2)
