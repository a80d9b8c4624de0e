"""Load from wrk on its own core, the way the speed issue's baseline was measured.

The baseline table in the speed issue (and ``../shared/reference/performance-baseline.md``)
was taken with every server pinned to CPU 0 (``taskset -c 0``) and
``wrk -t1 -c32`` pinned to CPU 1, so the load generator never competed with
the server for a core. The speed bench's default load client is Python (httpx)
sharing both cores with the server: its requests/s is a floor that penalises a
fast server most. ``python -m bench speed --load wrk`` reproduces the baseline's
method with :func:`load_wrk`; ``bench/dashboard.py``'s ``server(cpu=0)`` pins the
server.

wrk checks nothing about an answer, so the script given to it counts every answer
that is not HTTP 200 or whose first 64 bytes hold ``"errors"`` (the same rule as
the httpx client), and the caller checks one answer of each point beforehand.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.dashboard import Row, _cpu_seconds, pinned

WRK_CPU = 1
SERVER_CPU = 0

_SCRIPT = """
local f = assert(io.open([==[{body}]==], "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept-Encoding"] = "identity"

local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; first = ""; sec = {{}} end
function response(status, headers, body)
  local t = os.time()
  sec[t] = (sec[t] or 0) + 1
  if status ~= 200 or string.find(string.sub(body, 1, 64), '"errors"', 1, true) then
    bad = bad + 1
    if first == "" then first = status .. " " .. string.sub(body, 1, 200) end
  end
end
function done(summary, latency, requests)
  local bad, first = 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("bad")
    if first == "" then first = t:get("first") end
  end
  local e = summary.errors
  io.write(string.format("CRYPTOQL %d %d %d %d %d %d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99), bad,
    e.connect + e.read + e.write + e.timeout))
  io.write("CRYPTOQL_FIRST " .. first:gsub("\\n", " ") .. "\\n")
  for _, t in ipairs(threads) do
    for second, count in pairs(t:get("sec")) do
      io.write(string.format("CRYPTOQL_SEC %d %d\\n", second, count))
    end
  end
end
"""

_RESULT = re.compile(r"^CRYPTOQL (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", re.M)
_FIRST = re.compile(r"^CRYPTOQL_FIRST (.*)$", re.M)
_SEC = re.compile(r"^CRYPTOQL_SEC (\d+) (\d+)$", re.M)


def wrk_path() -> str:
    """The wrk binary; a clear message when it is not installed."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "--load wrk needs wrk on PATH (Debian: apt-get install wrk; the baseline used 4.1.0)"
        )
    return found


def _sample_cpu(pid: int, samples: dict[int, float], stop: threading.Event) -> None:
    """The server's CPU seconds at every wall-clock second boundary until ``stop``."""
    while not stop.is_set():
        now = time.time()
        if stop.wait(math.ceil(now) - now + 0.0005):
            return
        samples[math.floor(time.time())] = _cpu_seconds(pid)


@dataclass
class _Ran:
    text: str  #: wrk's output
    wrk_cpu: float  #: wrk's own CPU seconds
    started: float  #: wall-clock time wrk was started
    cpu0: float  #: the server's CPU seconds when wrk started
    cpu1: float  #: ... when it exited (not after the server drained its queue)
    cpu_at: dict[int, float]  #: ... at each wall-clock second boundary in between


def _run(cmd: list[str], server_pid: int) -> _Ran:
    """Run wrk to the end, sampling the server's CPU."""
    samples: dict[int, float] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_cpu, args=(server_pid, samples, stop))
    sampler.start()
    try:
        cpu0, started = _cpu_seconds(server_pid), time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        with proc.stdout:
            out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        cpu1 = _cpu_seconds(server_pid)
    finally:
        stop.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}: {text[-500:]}")
    return _Ran(text, usage.ru_utime + usage.ru_stime, started, cpu0, cpu1, samples)


async def _settle(pid: int, limit: float = 120.0) -> None:
    """Wait until the server has worked off what an earlier run left queued (its CPU idles)."""
    deadline = time.monotonic() + limit
    last = _cpu_seconds(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = _cpu_seconds(pid)
        if now - last < 0.02:
            return
        last = now


def _summary(text: str) -> tuple[int, int, int, int, int, int]:
    found = _RESULT.search(text)
    if found is None:
        raise RuntimeError(f"could not read wrk's summary: {text[-500:]}")
    requests, micros, p50, p99, bad, socket_errors = (int(g) for g in found.groups())
    return requests, micros, p50, p99, bad, socket_errors


@dataclass
class Window:
    """Steady-state figures: whole seconds after the queue has filled."""

    first: int  #: first wall-clock second counted
    seconds: int
    requests: int
    server_cpu: float


def steady_window(
    per_second: dict[int, int], cpu_at: dict[int, float], started: float, skip: int, seconds: int
) -> Window:
    """Responses completed in ``seconds`` whole wall-clock seconds, starting ``skip``
    seconds after the first whole second of a run started at ``started``, and the server
    CPU spent between the window's two boundaries (sampled while wrk ran, so a sample at
    the closing boundary means the run covered the window). Raises when it did not."""
    if not per_second:
        raise RuntimeError("wrk completed no request")
    first = math.ceil(started) + skip
    last = first + seconds  # exclusive
    if first not in cpu_at or last not in cpu_at:
        raise RuntimeError(
            f"the run does not cover the window {first}..{last} "
            f"(CPU samples {min(cpu_at, default=0)}..{max(cpu_at, default=0)})"
        )
    requests = sum(per_second.get(s, 0) for s in range(first, last))
    return Window(first, seconds, requests, cpu_at[last] - cpu_at[first])


@dataclass
class Point:
    row: Row  #: figures of the steady window; ``errors`` counts the whole run
    wrk_cpu_pct: float  #: wrk's own CPU use in percent of its core
    run_requests: int  #: responses in the whole measured run (window and edges)


async def load_wrk(
    base: str, pid: int, body: bytes, n: int, duration: float, connections: int
) -> Point:
    """One point: a short wrk warm-up, then, once the server idles, one wrk run of
    ``wrk -t1 -c<connections>`` on CPU 1 whose responses are counted per wall-clock
    second. The figures come from ``duration`` whole seconds after the queue has filled
    (two rounds of ``connections`` requests, from the warm-up's CPU per request), with the
    server's CPU sampled at the same second boundaries: the start-up of the run and
    requests cut off at its end do not bias them. Latency percentiles are wrk's, over the
    whole run, and so is the error count."""
    wrk = wrk_path()
    with tempfile.TemporaryDirectory() as tmp:
        body_path = Path(tmp) / "body.json"
        body_path.write_bytes(body)
        script = Path(tmp) / "post.lua"
        script.write_text(_SCRIPT.format(body=body_path))

        def cmd(seconds: int) -> list[str]:
            return pinned(
                WRK_CPU,
                [
                    wrk,
                    "-t1",
                    f"-c{connections}",
                    f"-d{seconds}s",
                    "--timeout",
                    "120s",
                    "-s",
                    str(script),
                    f"{base}/graphql",
                ],
            )

        warm = await asyncio.to_thread(_run, cmd(max(1, min(3, round(duration)))), pid)
        per_request = (warm.cpu1 - warm.cpu0) / max(_summary(warm.text)[0], 1)
        skip = math.ceil(2 * connections * per_request)
        seconds = max(1, round(duration))
        await _settle(pid)
        ran = await asyncio.to_thread(_run, cmd(skip + seconds + 2), pid)
        await _settle(pid)  # the next point starts from an idle server
    text = ran.text
    run_requests, micros, p50, p99, bad, socket_errors = _summary(text)
    per_second = {int(a): int(b) for a, b in _SEC.findall(text)}
    window = steady_window(per_second, ran.cpu_at, ran.started, skip, seconds)
    first = _FIRST.search(text)
    row = Row(
        n=n,
        requests=window.requests,
        seconds=float(window.seconds),
        p50_ms=p50 / 1000,
        p99_ms=p99 / 1000,
        cpu_ms=window.server_cpu / max(window.requests, 1) * 1000,
        statements=0,
        errors=bad + socket_errors,
        first_error=(first.group(1).strip() if first and bad else "")
        or (f"{socket_errors} socket errors" if socket_errors else ""),
    )
    return Point(row, 100 * ran.wrk_cpu / (micros / 1e6) if micros else float("nan"), run_requests)
