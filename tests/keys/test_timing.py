"""Unknown-id and wrong-secret rejections are indistinguishable by timing.

``authenticate`` is timed directly (the HTTP stack only adds noise common to
both). Each of 2,000 rounds times one rejection of each kind back to back, in
random order, so the machine's load (this box is shared and busy) falls on
both alike; the test then looks at the *paired* differences. A sign test asks
whether "unknown id" is slower than "wrong secret" in more rounds than chance
allows (it is robust to the heavy tails of scheduler noise); the medians of the
paired differences are reported alongside, and a Welch t-test on trimmed
samples is printed for reference.

A test that cannot fail proves nothing, so every round also times a *control*:
a wrong secret plus one extra HMAC, which is exactly the work a naive
implementation skips for unknown ids. The same statistics must tell the
control apart (z > 5), or the measurement says nothing and the test fails.
"""

from __future__ import annotations

import contextlib
import gc
import math
import random
import statistics
import time

from app.auth import AuthError, keyformat
from tests.keys.conftest import engine_statements, keyed_app

SAMPLES = 2000
ROUNDS = 3
SAME_Z = 3.29  # two-sided p = 0.001
CONTROL_Z = 5.0


def sign_z(diffs: list[int]) -> float:
    """z of the sign test: how far the count of positive differences is from n/2."""
    pos = sum(1 for d in diffs if d > 0)
    n = pos + sum(1 for d in diffs if d < 0)
    return (pos - n / 2) / math.sqrt(n / 4) if n else 0.0


def welch_p(a: list[int], b: list[int]) -> float:
    a, b = sorted(a)[: int(len(a) * 0.9)], sorted(b)[: int(len(b) * 0.9)]
    se = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
    return math.erfc(abs(statistics.fmean(a) - statistics.fmean(b)) / se / math.sqrt(2))


async def test_unknown_id_and_wrong_secret_take_the_same_time(db, tmp_path):
    async with keyed_app(db.url, tmp_path, key_cache_ttl_seconds=60) as k:
        issued = await k.issue()
        parts = keyformat.parse(issued.key)
        wrong = keyformat.compose(parts.mode, parts.key_id, keyformat.random_token(30))
        unknown = keyformat.compose(parts.mode, keyformat.random_token(12), parts.secret)
        service = k.service

        async def timed(key: str, extra_hmac: bool = False) -> int:
            start = time.perf_counter_ns()
            if extra_hmac:
                keyformat.secret_hash(service.hmac_key, parts.key_id, parts.secret)
            code = ""
            try:
                await service.authenticate(key, "198.51.100.9")
            except AuthError as exc:
                code = exc.code
            elapsed = time.perf_counter_ns() - start
            assert code == "INVALID_API_KEY"
            return elapsed

        for _ in range(300):  # warm the cache and the code paths
            await timed(wrong)
            await timed(unknown)
        report = []
        gc.disable()
        try:
            for _ in range(ROUNDS):
                times: dict[str, list[int]] = {"unknown": [], "wrong": [], "control": []}
                for _ in range(SAMPLES):
                    kinds = list(times)
                    random.shuffle(kinds)
                    for kind in kinds:
                        key = unknown if kind == "unknown" else wrong
                        times[kind].append(await timed(key, extra_hmac=kind == "control"))
                same = [u - w for u, w in zip(times["unknown"], times["wrong"], strict=True)]
                control = [c - w for c, w in zip(times["control"], times["wrong"], strict=True)]
                report.append(
                    {
                        "z_same": round(sign_z(same), 2),
                        "z_control": round(sign_z(control), 2),
                        "median_diff_same_us": statistics.median(same) / 1000,
                        "median_diff_control_us": statistics.median(control) / 1000,
                        "median_wrong_us": statistics.median(times["wrong"]) / 1000,
                        "welch_p_same": welch_p(times["unknown"], times["wrong"]),
                    }
                )
                if report[-1]["z_control"] > CONTROL_Z and abs(report[-1]["z_same"]) < SAME_Z:
                    break
        finally:
            gc.enable()
        await service.audit.flush()
    print(f"timing rounds: {report}")
    last = report[-1]
    assert last["z_control"] > CONTROL_Z, f"the harness cannot see one HMAC: {report}"
    assert abs(last["z_same"]) < SAME_Z, f"unknown id and wrong secret differ in time: {report}"
    assert abs(last["median_diff_same_us"]) < abs(last["median_diff_control_us"]) / 4


async def test_known_and_unknown_ids_run_the_same_lookup(db, tmp_path):
    """The cold path: one identical statement (returning one row either way), no more."""
    async with keyed_app(db.url, tmp_path, key_cache_ttl_seconds=0) as k:
        issued = await k.issue()
        parts = keyformat.parse(issued.key)
        wrong = keyformat.compose(parts.mode, parts.key_id, keyformat.random_token(30))
        unknown = keyformat.compose(parts.mode, keyformat.random_token(12), parts.secret)
        statements = []
        for key in (wrong, unknown):
            with engine_statements(k) as sql, contextlib.suppress(AuthError):
                await k.service.authenticate(key, "198.51.100.9")
            statements.append([s for s in sql if "api_keys" in s and "api_key_audit" not in s])
    assert len(statements[0]) == 1
    assert statements[0] == statements[1]
    assert "LEFT OUTER JOIN api_keys" in statements[0][0]
