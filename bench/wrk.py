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
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.dashboard import Row, _cpu_seconds

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
function init(args) bad = 0; first = "" end
function response(status, headers, body)
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
end
"""

_RESULT = re.compile(r"^CRYPTOQL (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", re.M)
_FIRST = re.compile(r"^CRYPTOQL_FIRST (.*)$", re.M)


def wrk_path() -> str:
    """The wrk binary; a clear message when it is not installed."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "--load wrk needs wrk on PATH (Debian: apt-get install wrk; the baseline used 4.1.0)"
        )
    return found


def pinned(cpu: int, cmd: list[str]) -> list[str]:
    """``cmd`` run on one CPU only (taskset execs it, so the pid is the command's)."""
    if os.cpu_count() is None or cpu >= (os.cpu_count() or 1):
        raise SystemExit(f"cannot pin to CPU {cpu}: this machine has {os.cpu_count()} CPUs")
    return ["taskset", "-c", str(cpu), *cmd]


def _run(cmd: list[str], server_pid: int) -> tuple[str, float, float, float]:
    """Run wrk to the end; its output, its own CPU seconds, and the server's CPU seconds at
    the start and at the moment wrk exits (not after the server drains its backlog)."""
    cpu0 = _cpu_seconds(server_pid)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    cpu1 = _cpu_seconds(server_pid)
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}: {text[-500:]}")
    return text, usage.ru_utime + usage.ru_stime, cpu0, cpu1


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


async def load_wrk(
    base: str, pid: int, body: bytes, n: int, duration: float, connections: int
) -> tuple[Row, float]:
    """One point: a short wrk warm-up, wait for the server to idle, then ``duration``
    seconds of ``wrk -t1 -c<connections>`` on CPU 1. Returns the row and wrk's own
    CPU use in percent of its core."""
    wrk = wrk_path()
    with tempfile.TemporaryDirectory() as tmp:
        body_path = Path(tmp) / "body.json"
        body_path.write_bytes(body)
        script = Path(tmp) / "post.lua"
        script.write_text(_SCRIPT.format(body=body_path))

        def cmd(seconds: float) -> list[str]:
            return pinned(
                WRK_CPU,
                [
                    wrk,
                    "-t1",
                    f"-c{connections}",
                    f"-d{max(1, round(seconds))}s",
                    "--timeout",
                    "60s",
                    "-s",
                    str(script),
                    f"{base}/graphql",
                ],
            )

        await asyncio.to_thread(_run, cmd(min(3.0, duration)), pid)  # warm-up
        await _settle(pid)
        text, wrk_cpu, cpu0, cpu1 = await asyncio.to_thread(_run, cmd(duration), pid)
        await _settle(pid)  # the next point starts from an idle server
    found = _RESULT.search(text)
    if found is None:
        raise RuntimeError(f"could not read wrk's summary: {text[-500:]}")
    requests, micros, p50, p99, bad, socket_errors = (int(g) for g in found.groups())
    first = _FIRST.search(text)
    seconds = micros / 1e6
    row = Row(
        n=n,
        requests=requests,
        seconds=seconds,
        p50_ms=p50 / 1000,
        p99_ms=p99 / 1000,
        cpu_ms=(cpu1 - cpu0) / max(requests, 1) * 1000,
        statements=0,
        errors=bad + socket_errors,
        first_error=(first.group(1).strip() if first and bad else "")
        or (f"{socket_errors} socket errors" if socket_errors else ""),
    )
    return row, 100 * wrk_cpu / seconds if seconds else float("nan")
