"""Candle intervals, rollups and the close-time → open-time normalisation.

Sources are ingested at the finest interval they offer; coarser intervals are
*stored* by rolling up, so a read of a long range touches few rows. The
stored ladder is :data:`STORED_INTERVALS` (``1m → 5m → 1h → 1d``); each rung is
rolled up from the rung below it that divides it, inside the same transaction
as the candles that changed it. The graph reads "the coarsest stored interval
that divides the requested one" and aggregates the rest on read.

Gap policy (also in docs/ingest.md):

* a bucket is written as soon as it has one child, so the current hour or day
  is live;
* ``is_complete`` is true only when *every* expected child is present and
  complete: a bucket with a hole (an exchange outage, a history that starts
  mid-day) stays ``is_complete = false`` instead of pretending;
* nothing is invented for a bucket with no child at all: gaps stay gaps;
* when a late child arrives (a backfill filling the hole) the bucket is
  recomputed from all its stored children, so rollups converge to the same
  rows however the children arrived (which the crash test relies on).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sources.records import INTERVAL_SECONDS
from storage.repositories.ingest import CandleRow

#: Intervals kept in the database, finest first. Each divides the next.
STORED_INTERVALS: tuple[str, ...] = ("1m", "5m", "1h", "1d")


def seconds(interval: str) -> int:
    try:
        return INTERVAL_SECONDS[interval]
    except KeyError:
        raise ValueError(f"unknown interval {interval!r}") from None


def floor_time(ts: datetime, interval: str) -> datetime:
    """The open time of the ``interval`` bucket containing ``ts`` (buckets align to the epoch)."""
    length = seconds(interval)
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % length, UTC)


def is_aligned(ts: datetime, interval: str) -> bool:
    return ts.microsecond == 0 and int(ts.timestamp()) % seconds(interval) == 0


def open_from_close(close_time: datetime, interval: str) -> datetime:
    """CoinGecko stamps a candle with its *close* time; we key every candle by its open time."""
    return close_time - timedelta(seconds=seconds(interval))


def rollup_chain(base: str) -> list[tuple[str, str]]:
    """``[(child, target), …]`` to roll ``base`` candles up the stored ladder.

    ``1m`` gives ``[(1m, 5m), (5m, 1h), (1h, 1d)]``; a source whose finest
    interval is ``30m`` gives ``[(30m, 1h), (1h, 1d)]``; intervals that do not
    divide a stored one (``4d``) roll up to nothing.
    """
    chain: list[tuple[str, str]] = []
    child = base
    for target in STORED_INTERVALS:
        if seconds(target) > seconds(child) and seconds(target) % seconds(child) == 0:
            chain.append((child, target))
            child = target
    return chain


def affected_buckets(candles: Iterable[CandleRow], target: str) -> dict[int, set[datetime]]:
    """``{asset_id: {bucket open time}}`` of the ``target`` buckets these candles fall in."""
    out: dict[int, set[datetime]] = {}
    for c in candles:
        out.setdefault(c.asset_id, set()).add(floor_time(c.open_time, target))
    return out


def rollup(children: Sequence[CandleRow], child: str, target: str) -> list[CandleRow]:
    """Aggregate ``child`` candles (one source and quote, sorted by asset then time) to ``target``.

    open = first child's open, close = last child's close, high/low = extremes,
    volume = sum (``None`` when no child has one). Complete only when all
    ``target/child`` children are present and complete (see the gap policy).
    """
    expected = seconds(target) // seconds(child)
    groups: dict[tuple[int, datetime], list[CandleRow]] = {}
    for c in children:
        groups.setdefault((c.asset_id, floor_time(c.open_time, target)), []).append(c)
    out: list[CandleRow] = []
    for (asset_id, bucket), rows in groups.items():
        rows.sort(key=lambda r: r.open_time)
        volumes = [r.volume for r in rows if r.volume is not None]
        first, last = rows[0], rows[-1]
        out.append(
            CandleRow(
                source=first.source,
                asset_id=asset_id,
                quote_currency=first.quote_currency,
                interval=target,
                open_time=bucket,
                open=first.open,
                high=max(r.high for r in rows),
                low=min(r.low for r in rows),
                close=last.close,
                volume=sum(volumes, Decimal(0)) if volumes else None,
                is_complete=len(rows) == expected and all(r.is_complete for r in rows),
            )
        )
    return out


__all__ = [
    "STORED_INTERVALS",
    "affected_buckets",
    "floor_time",
    "is_aligned",
    "open_from_close",
    "rollup",
    "rollup_chain",
    "seconds",
]
