"""Candle intervals and bucketing: pure functions, no I/O.

Intervals are ``1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M`` (Binance's
names; ``m`` is minutes, ``M`` calendar months). Bucket boundaries:

* fixed intervals (1m … 3d) are aligned to the Unix epoch in UTC, so a 4h
  bucket opens at 00:00, 04:00 … and a 3d bucket at multiples of three days
  since 1970-01-01 (Binance aligns its 3d klines the same way);
* ``1w`` buckets open on Monday 00:00 UTC (ISO weeks);
* ``1M`` buckets are calendar months in UTC (28–31 days).

An interval *F* can build an interval *I* when every *I* bucket is an exact
union of *F* buckets: *F*'s length divides *I*'s and their boundaries line
up (1d builds 1w and 1M, 8h builds 1d and 1w, 3d builds neither 1w nor
1M). The graph reads the coarsest stored interval that can build the
requested one.

**Gap policy.** A bucket with no stored finer candle is omitted (nothing is
invented or carried forward). A bucket with some but not all of its finer
candles, or containing a finer candle stored as incomplete, is returned with
``isComplete: false``, as is the bucket still forming at the instant.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from storage.records import CandleRecord

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = 86400


@dataclass(frozen=True, slots=True)
class Interval:
    """A bucket length in seconds (``None`` for calendar months) and its epoch offset."""

    name: str
    seconds: int | None
    offset: int = 0

    @property
    def is_month(self) -> bool:
        return self.seconds is None


def _fixed(name: str, seconds: int, offset: int = 0) -> Interval:
    return Interval(name=name, seconds=seconds, offset=offset)


#: Every supported interval, finest first.
INTERVALS: dict[str, Interval] = {
    iv.name: iv
    for iv in (
        _fixed("1m", 60),
        _fixed("3m", 180),
        _fixed("5m", 300),
        _fixed("15m", 900),
        _fixed("30m", 1800),
        _fixed("1h", 3600),
        _fixed("2h", 7200),
        _fixed("4h", 14400),
        _fixed("6h", 21600),
        _fixed("8h", 28800),
        _fixed("12h", 43200),
        _fixed("1d", _DAY),
        _fixed("3d", 3 * _DAY),
        _fixed("1w", 7 * _DAY, offset=4 * _DAY),  # 1970-01-05 was a Monday
        Interval(name="1M", seconds=None),
    )
}


class UnknownInterval(ValueError):
    pass


def parse_interval(name: str) -> Interval:
    try:
        return INTERVALS[name]
    except KeyError:
        raise UnknownInterval(
            f"unknown interval {name!r}; use one of {', '.join(INTERVALS)}"
        ) from None


def floor(iv: Interval, t: datetime) -> datetime:
    """The open time of the bucket containing ``t``."""
    if iv.seconds is None:
        return t.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    since = math.floor(t.timestamp()) - iv.offset
    return datetime.fromtimestamp(since - since % iv.seconds + iv.offset, UTC)


def shift(iv: Interval, start: datetime, n: int) -> datetime:
    """The open time ``n`` buckets after (``n < 0``: before) the bucket opening at ``start``."""
    if iv.seconds is not None:
        return start + timedelta(seconds=iv.seconds * n)
    months = start.year * 12 + (start.month - 1) + n
    return start.replace(year=months // 12, month=months % 12 + 1)


def close_time(iv: Interval, start: datetime) -> datetime:
    return shift(iv, start, 1)


def count_between(iv: Interval, first: datetime, last: datetime) -> int:
    """How many buckets open in ``[first, last]`` (both bucket open times)."""
    if last < first:
        return 0
    if iv.seconds is not None:
        return int((last - first).total_seconds()) // iv.seconds + 1
    return (last.year - first.year) * 12 + (last.month - first.month) + 1


def divides(fine: Interval, coarse: Interval) -> bool:
    """Whether every ``coarse`` bucket is an exact union of ``fine`` buckets."""
    if fine.seconds is None:
        return coarse.seconds is None
    if coarse.seconds is None:  # months start at midnight UTC, so whole days build them
        return _DAY % fine.seconds == 0
    return coarse.seconds % fine.seconds == 0 and (coarse.offset - fine.offset) % fine.seconds == 0


def source_candidates(iv: Interval) -> list[Interval]:
    """Intervals that can build ``iv``, coarsest first (``iv`` itself first)."""
    return [f for f in reversed(INTERVALS.values()) if divides(f, iv)]


class Bucket(NamedTuple):
    """One aggregated candle (a named tuple: immutable and cheap to build, as a
    sparkline builds one per point per asset)."""

    open_time: datetime
    close_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None
    is_complete: bool
    source: str
    quote_currency: str
    source_interval: str
    parts: int
    expected_parts: int


def pick_source(candles: Sequence[CandleRecord]) -> str | None:
    """The source with the most candles in the window (ties: alphabetical).

    Candles from different sources are never mixed into one bucket: their
    volumes and trade sets differ, so a mixed candle would describe no market.
    """
    counts = Counter(c.source for c in candles)
    if not counts:
        return None
    return min(counts, key=lambda s: (-counts[s], s))


def usable(c: CandleRecord, fine: Interval, *, at: datetime, historical: bool) -> bool:
    """A stored candle counts if it opened by ``at``; a historical read also needs it closed."""
    if c.open_time > at:
        return False
    return not historical or close_time(fine, c.open_time) <= at


def aggregate(
    candles: Sequence[CandleRecord],
    iv: Interval,
    fine: Interval,
    *,
    first: datetime,
    last: datetime,
    at: datetime,
) -> list[Bucket]:
    """Roll ``candles`` (one source, interval ``fine``, any order) into ``iv`` buckets
    opening in ``[first, last]``; see the module docstring for completeness and gaps."""
    if fine.name == iv.name:
        same = _as_is(candles, iv, first=first, last=last, at=at)
        if same is not None:
            return same
    groups: dict[datetime, list[CandleRecord]] = {}
    for c in candles:
        start = floor(iv, c.open_time)
        if first <= start <= last:
            groups.setdefault(start, []).append(c)
    out: list[Bucket] = []
    for start in sorted(groups):
        parts = sorted(groups[start], key=lambda c: c.open_time)
        end = close_time(iv, start)
        expected = 1 if fine.name == iv.name else count_between(fine, start, shift(fine, end, -1))
        volumes = [c.volume for c in parts if c.volume is not None]
        out.append(
            Bucket(
                open_time=start,
                close_time=end,
                open=parts[0].open,
                high=max(c.high for c in parts),
                low=min(c.low for c in parts),
                close=parts[-1].close,
                volume=sum(volumes, Decimal(0)) if volumes else None,
                is_complete=(
                    end <= at and len(parts) == expected and all(c.is_complete for c in parts)
                ),
                source=parts[0].source,
                quote_currency=parts[0].quote_currency,
                source_interval=fine.name,
                parts=len(parts),
                expected_parts=expected,
            )
        )
    return out


def _open_time(c: CandleRecord) -> datetime:
    return c.open_time


def _as_is(
    candles: Sequence[CandleRecord],
    iv: Interval,
    *,
    first: datetime,
    last: datetime,
    at: datetime,
) -> list[Bucket] | None:
    """The stored interval is the requested one: each candle is its own bucket.

    The common case (an hourly sparkline from stored hourly candles), so it
    skips the grouping. ``None`` when a stored candle is not aligned to its
    bucket: the general path then merges it into the bucket it falls in.
    """
    if iv.seconds is None:
        return None
    seconds, offset = iv.seconds, iv.offset
    step = timedelta(seconds=seconds)
    # Intervals that divide a day with no offset align within the UTC day: the
    # boundary check needs no epoch timestamp.
    in_day = offset == 0 and 86400 % seconds == 0
    name = iv.name
    out: list[Bucket] = []
    for c in sorted(candles, key=_open_time):
        start = c.open_time
        if in_day and start.tzinfo is UTC:
            off_boundary = (start.hour * 3600 + start.minute * 60 + start.second) % seconds
        else:
            off_boundary = (int(start.timestamp()) - offset) % seconds
        if start.microsecond or off_boundary:
            return None  # not on a bucket boundary
        if not first <= start <= last:
            continue
        end = start + step
        # Positional, in Bucket's field order: keywords cost more than the rest of
        # the loop body, and a dashboard builds 24 of these per asset.
        out.append(
            Bucket(
                start,
                end,
                c.open,
                c.high,
                c.low,
                c.close,
                c.volume,
                end <= at and c.is_complete,
                c.source,
                c.quote_currency,
                name,
                1,
                1,
            )
        )
    return out
