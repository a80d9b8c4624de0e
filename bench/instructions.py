"""Instructions per request: a noise-free figure for comparing two versions of the code.

    python -m bench instructions [--query ticker|dashboard] [--n 100]
                                 [--path compiled|reference] [--requests 10,60]
                                 [--accept-encoding identity]

Wall-clock and CPU-time figures on a shared 2-core virtual machine move by 20-40 %
between runs; CPU instructions do not. This runs ``bench/speed_app.py`` (the app
``bench speed`` measures) in one process under valgrind's callgrind twice, driving
it with raw ASGI calls (no HTTP client, no sockets) — once with the smaller and once
with the larger request count — and prints the difference divided by the difference
in requests: the instructions one request costs, with start-up and warm-up cancelled
out. The request sends ``Accept-Encoding: identity`` like ``bench speed``'s client,
so the figure is the work the HTTP bench times; ``--accept-encoding "gzip, br"`` adds
the compression a browser asks for (brotli quality 4 is about a tenth of a 100-asset
ticker request). Needs ``valgrind`` on PATH and the speed bench's database
(``python -m bench speed --quick`` once). A run takes one to a few minutes (the
reference path is the slow one).

Instructions are not time (cache misses and branch mispredictions differ), but a
change that removes work shows up exactly, which is what a before/after needs.
``--inner`` is the driver itself, run under valgrind by the outer command.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.profile import app_parser, use_app_env


async def _drive(query: str, n: int, requests: int, encoding: str = "identity") -> None:
    """Serve ``requests`` requests (after five warm-ups) through raw ASGI calls."""
    import orjson

    from bench.speed import QUERIES
    from bench.speed_app import app

    body = orjson.dumps({"query": QUERIES[query], "variables": {"n": n}})
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"accept-encoding", encoding.encode()),
    ]

    async with app.router.lifespan_context(app) as state:

        async def one() -> int:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/graphql",
                "raw_path": b"/graphql",
                "query_string": b"",
                "root_path": "",
                "headers": headers,
                "client": ("127.0.0.1", 1),
                "server": ("bench", 80),
                "state": dict(state or {}),
            }
            sent = False
            status = 0

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                await asyncio.sleep(3600)  # the app never asks again for one body
                return {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]

            await app(scope, receive, send)
            return status

        for _ in range(5):
            if (status := await one()) != 200:
                raise SystemExit(f"query failed with HTTP {status}")
        for _ in range(requests):
            await one()


def _inner(args: argparse.Namespace) -> int:
    import uvloop  # the server's loop (uvicorn picks it when installed)

    uvloop.run(_drive(args.query, args.n, args.inner, args.accept_encoding))
    return 0


def _count(args: argparse.Namespace, requests: int, out_dir: str) -> int:
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out_dir}/callgrind.{requests}",
        sys.executable,
        "-m",
        "bench",
        "instructions",
        "--inner",
        str(requests),
        "--query",
        args.query,
        "--n",
        str(args.n),
        "--path",
        args.path,
        "--accept-encoding",
        args.accept_encoding,
    ]
    if args.url:
        cmd += ["--url", args.url]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return int(found.group(1))


def build_parser() -> argparse.ArgumentParser:
    ap = app_parser("python -m bench instructions", __doc__)
    ap.add_argument(
        "--requests",
        default=None,
        help="the two request counts, e.g. 10,60 (default: 10,60 compiled, 4,14 reference)",
    )
    ap.add_argument(
        "--accept-encoding",
        default="identity",
        help='the request\'s Accept-Encoding (default identity, as bench speed sends; "gzip, br"'
        " adds compression)",
    )
    ap.add_argument("--inner", type=int, default=None, help=argparse.SUPPRESS)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not use_app_env(args):
        return 2
    if args.inner is not None:
        return _inner(args)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    default = "4,14" if args.path == "reference" else "10,60"
    low, high = (int(x) for x in (args.requests or default).split(","))
    if not 0 <= low < high:
        print("--requests needs two counts, the first smaller", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as out_dir:
        counts = []
        for requests in (low, high):
            start = time.monotonic()
            print(
                f"  callgrind: {args.path} {args.query} N={args.n}, {requests} requests ...", end=""
            )
            sys.stdout.flush()
            counts.append(_count(args, requests, out_dir))
            print(f" {counts[-1] / 1e6:,.1f} M instructions in {time.monotonic() - start:.0f} s")
    per_request = (counts[1] - counts[0]) / (high - low)
    print(
        f"{args.query}, N={args.n}, {args.path}: {per_request / 1e6:.2f} M instructions per "
        f"request ({per_request / args.n / 1e3:.1f} k per asset)"
    )
    return 0
