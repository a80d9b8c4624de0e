"""Instructions per request: a noise-free figure for comparing two versions of the code.

    python -m bench instructions [--query ticker|dashboard] [--n 100]
                                 [--path compiled|reference] [--requests 10,60]
                                 [--accept-encoding identity]
                                 [--inflight 1] [--gc-threshold 10000|off]

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

``--inflight K`` keeps K requests in flight at once (as K connections would), so
the cyclic GC meets what a loaded server keeps alive: the young generation fills
with the live state of K requests, and survivors are promoted and walked again.
``--gc-threshold`` sets the young generation's threshold (``off`` disables the
cyclic GC) after the app's own start-up tuning, to rank thresholds by work rather
than by time; the line printed per run gives the collections per generation.

Instructions are not time (cache misses and branch mispredictions differ), but a
change that removes work shows up exactly, which is what a before/after needs.
``--inner`` is the driver itself, run under valgrind by the outer command.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from bench._raw import collections, serve, set_young_threshold
from bench.profile import app_parser, use_app_env


def _gc_hooks(gc_threshold: str | None) -> tuple[Callable[[], None], Callable[[], None]]:
    """Set the GC's young threshold before the measured requests; print the
    collections per generation after them."""
    taken: list[int] = []

    def before() -> None:
        set_young_threshold(gc_threshold)
        taken[:] = collections()

    def after() -> None:
        now = collections()
        print("gc collections:", "/".join(str(a - b) for a, b in zip(now, taken, strict=True)))

    return before, after


def _inner(args: argparse.Namespace) -> int:
    import uvloop  # the server's loop (uvicorn picks it when installed)

    before, after = _gc_hooks(args.gc_threshold)
    uvloop.run(
        serve(
            args.query,
            args.n,
            args.inner,
            encoding=args.accept_encoding,
            inflight=args.inflight,
            before=before,
            after=after,
        )
    )
    return 0


def _count(args: argparse.Namespace, requests: int, out_dir: str) -> tuple[int, str]:
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
        "--inflight",
        str(args.inflight),
    ]
    if args.gc_threshold is not None:
        cmd += ["--gc-threshold", args.gc_threshold]
    if args.url:
        cmd += ["--url", args.url]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    collections = re.search(r"gc collections: (\S+)", done.stdout)
    return int(found.group(1)), collections.group(1) if collections else "?"


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
    ap.add_argument(
        "--inflight",
        type=int,
        default=1,
        help="requests kept in flight at once, as that many connections would (default 1)",
    )
    ap.add_argument(
        "--gc-threshold",
        default=None,
        help="the cyclic GC's young threshold for the measured requests, or off "
        "(default: the app's own, 10000)",
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
    if args.inflight < 1:
        print("--inflight needs at least 1", file=sys.stderr)
        return 2
    if args.gc_threshold not in (None, "off") and not args.gc_threshold.isdigit():
        print("--gc-threshold takes a whole number or off", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as out_dir:
        counts = []
        for requests in (low, high):
            start = time.monotonic()
            print(
                f"  callgrind: {args.path} {args.query} N={args.n}, {requests} requests ...", end=""
            )
            sys.stdout.flush()
            count, collections = _count(args, requests, out_dir)
            counts.append(count)
            print(
                f" {count / 1e6:,.1f} M instructions in {time.monotonic() - start:.0f} s"
                f" (gc collections young/middle/full: {collections})"
            )
    per_request = (counts[1] - counts[0]) / (high - low)
    shape = f", {args.inflight} in flight" if args.inflight > 1 else ""
    if args.gc_threshold is not None:
        shape += f", gc threshold {args.gc_threshold}"
    print(
        f"{args.query}, N={args.n}, {args.path}{shape}: {per_request / 1e6:.2f} M instructions per "
        f"request ({per_request / args.n / 1e3:.1f} k per asset)"
    )
    return 0
