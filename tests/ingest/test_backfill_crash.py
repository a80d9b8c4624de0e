"""Crash test: ``kill -9`` a backfill at random points; a restart loses and duplicates nothing.

The same backfill runs once uninterrupted (the reference), then, on the same
database wiped of candles and cursors, is killed with SIGKILL several times at
random moments and restarted until it finishes. Row counts and a checksum
over (source, asset, interval, open_time, OHLCV, complete) must equal the
reference's, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from storage.models import Asset, Candle, SourceCursor

ROOT = Path(__file__).resolve().parents[2]
ARGS = [
    *("backfill", "--source", "simulated", "--assets", "bitcoin,ethereum"),
    *("--interval", "1m", "--from", "2026-05-04T23:00:00Z", "--to", "2026-05-05T01:00:00Z"),
    *("--chunk", "15", "--quiet", "--no-signals"),
]
KILLS = 3


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOQL_")}
    env.update(
        DATABASE_URL=url,
        CRYPTOQL_ENV="test",
        CRYPTOQL_AUTO_MIGRATE="false",
        CRYPTOQL_LOG_JSON="false",
    )
    return env


def _start(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli_ingest", *ARGS],
        cwd=ROOT,
        env=_env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def _finish(proc: subprocess.Popen[bytes]) -> None:
    rc = await asyncio.to_thread(proc.wait, 120)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert rc == 0, err


async def _chunks_committed(db) -> int:
    async with db.sessions() as s:
        stmt = select(func.count()).where(SourceCursor.stream.like("backfill:%"))
        return (await s.execute(stmt)).scalar_one()


async def _state(db) -> tuple[int, str, int]:
    async with db.sessions() as s:
        stmt = (
            select(
                Candle.source, Asset.canonical_id, Candle.quote_currency, Candle.interval,
                Candle.open_time, Candle.open, Candle.high, Candle.low, Candle.close,
                Candle.volume, Candle.is_complete,
            )
            .join(Asset, Asset.id == Candle.asset_id)
            .order_by(Candle.source, Asset.canonical_id, Candle.interval, Candle.open_time)
        )  # fmt: skip
        rows = (await s.execute(stmt)).all()
        base = (await s.execute(select(func.count()).where(Candle.interval == "1m"))).scalar_one()
    digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
    return len(rows), digest, base


@pytest.mark.slow
async def test_kill_9_during_backfill_loses_and_duplicates_nothing(db):
    proc = _start(db.url)
    await _finish(proc)
    reference = await _state(db)
    assert reference[2] == 2 * 3 * 120  # 2 assets x 3 venues x 2 hours of minutes

    async with db.sessions() as s:
        await s.execute(delete(Candle))
        await s.execute(delete(SourceCursor))
        await s.commit()

    rng = random.Random(20260505)
    partial_states = []
    for _ in range(KILLS):
        proc = _start(db.url)
        before = await _chunks_committed(db)
        # Wait until this run has committed a chunk, then kill it a random moment later.
        while proc.poll() is None and await _chunks_committed(db) == before:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        await asyncio.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is not None:
            await _finish(proc)
            break
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 30)
        if proc.returncode == 0:
            # It exited between poll() and kill(): the signal reached a zombie.
            await _finish(proc)
            break
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL, err
        partial_states.append((await _state(db))[2])
    await _finish(_start(db.url))

    assert any(0 < n < reference[2] for n in partial_states), (
        f"no kill landed mid-backfill: {partial_states}"
    )
    assert await _state(db) == reference
