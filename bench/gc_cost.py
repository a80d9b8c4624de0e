"""What the cyclic GC costs a loaded server: objects walked and collections per request.

    python -m bench gc_cost [--query ticker|dashboard] [--n 100] [--path compiled|reference]
                            [--inflight 2,32] [--thresholds 10000,50000,100000,off]
                            [--requests 1500]

Serves ``bench/speed_app.py`` with raw ASGI calls (as ``bench instructions`` does)
in a fresh process per combination of requests in flight and young-generation
threshold, and reports, over the measured requests:

- collections per generation per 1,000 requests;
- **objects walked per request**: at the start of each collection, the objects in
  the generations it collects (what it traverses). Unlike time, this does not move
  between runs, so it ranks thresholds and code changes on a noisy machine;
- the GC's share of the process's CPU time (the collections' own wall time over
  the run's CPU time: noisy, but both halves come from the same run);
- CPU per request, and the process's peak RSS (what a higher threshold costs).

Counting the objects takes time of its own, outside the timed part of each
collection. ``off`` disables the cyclic GC, the floor for the CPU figure.
Needs the speed bench's database (``python -m bench speed --quick`` once).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from typing import Any

from bench._raw import collections, serve, set_young_threshold
from bench.profile import app_parser, use_app_env


class Walk:
    """Counts what each collection walks (a ``gc.callbacks`` entry)."""

    def __init__(self) -> None:
        self.walked = 0
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            generation = info["generation"]
            self.walked += sum(len(gc.get_objects(g)) for g in range(generation + 1))
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


def _inner(args: argparse.Namespace) -> dict[str, Any]:
    import uvloop

    walk = Walk()
    taken: dict[str, Any] = {}

    def before() -> None:
        set_young_threshold(args.threshold)
        gc.callbacks.append(walk)
        taken["collections"] = collections()
        taken["cpu"] = time.process_time()

    def after() -> None:
        taken["cpu"] = time.process_time() - taken["cpu"]
        gc.callbacks.remove(walk)
        now = collections()
        taken["collections"] = [a - b for a, b in zip(now, taken["collections"], strict=True)]

    uvloop.run(
        serve(args.query, args.n, args.requests, inflight=args.inner, before=before, after=after)
    )
    per = 1000 / args.requests
    return {
        "collections": [round(c * per, 1) for c in taken["collections"]],
        "walked": walk.walked / args.requests,
        "gc_share": walk.seconds / taken["cpu"],
        "cpu_ms": taken["cpu"] * 1000 / args.requests,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _run(args: argparse.Namespace, inflight: int, threshold: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench", "gc_cost", "--inner", str(inflight)]
    cmd += ["--threshold", threshold, "--requests", str(args.requests)]
    cmd += ["--query", args.query, "--n", str(args.n), "--path", args.path]
    if args.url:
        cmd += ["--url", args.url]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def build_parser() -> argparse.ArgumentParser:
    ap = app_parser("python -m bench gc_cost", __doc__)
    ap.add_argument("--inflight", default="2,32", help="requests in flight, a list (default 2,32)")
    ap.add_argument(
        "--thresholds",
        default="10000,50000,100000,off",
        help="young-generation thresholds, a list; off disables the GC (default "
        "10000,50000,100000,off; the app's own is 10000)",
    )
    ap.add_argument("--requests", type=int, default=1500, help="measured requests (default 1500)")
    ap.add_argument("--inner", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--threshold", default=None, help=argparse.SUPPRESS)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not use_app_env(args):
        return 2
    if args.inner is not None:
        print(json.dumps(_inner(args)))
        return 0
    try:
        inflight = [int(x) for x in args.inflight.split(",")]
    except ValueError:
        print("--inflight takes whole numbers, e.g. 2,32", file=sys.stderr)
        return 2
    thresholds = args.thresholds.split(",")
    if any(t != "off" and not t.isdigit() for t in thresholds) or min(inflight) < 1:
        print("--thresholds takes whole numbers or off; --inflight at least 1", file=sys.stderr)
        return 2
    print(f"{args.query} N={args.n} {args.path}, {args.requests} requests per row")
    print(
        f"{'in flight':>9} {'threshold':>9} {'young/middle/full per 1k':>25} "
        f"{'walked/req':>11} {'GC share':>9} {'CPU ms/req':>11} {'peak RSS':>9}"
    )
    for k in inflight:
        for t in thresholds:
            start = time.monotonic()
            r = _run(args, k, t)
            per_k = "/".join(f"{c:g}" for c in r["collections"])
            print(
                f"{k:>9} {t:>9} {per_k:>25} {r['walked']:>11,.0f} {r['gc_share']:>9.1%} "
                f"{r['cpu_ms']:>11.2f} {r['rss_mb']:>7.0f} MB  ({time.monotonic() - start:.0f} s)",
                flush=True,
            )
    return 0
