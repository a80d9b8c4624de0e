"""How many points a time-series request returns, as an upper bound.

A candle or metric series returns one point per interval bucket that overlaps
the requested range. The count is bounded by ``ceil(range / interval) + 1``
(a range that starts mid-bucket touches one bucket more than it spans). For
calendar units the shortest length is used (a month counts as 28 days, a year
as 365), so the bound holds for every month of the calendar: the estimate may
be a point too high, never too low.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any

_UNIT_SECONDS = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "M": 28 * 86400,
    "y": 365 * 86400,
}
_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhdwMy])\s*$")


def interval_seconds(value: Any) -> float | None:
    """The shortest possible length of one interval, in seconds; ``None`` if unknown.

    Accepts the spellings our schema uses (``"1h"``, ``"1M"``; an enum whose
    value is such a string), a ``timedelta`` or a number of seconds.
    """
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        return seconds if seconds > 0 else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    if isinstance(value, str):
        return _parse_interval(value)
    return None


@lru_cache(maxsize=256)
def _parse_interval(text: str) -> float | None:
    m = _INTERVAL.match(text)
    if m is None:
        return None
    n = int(m.group(1))
    return float(n * _UNIT_SECONDS[m.group(2)]) if n > 0 else None


def as_utc(value: Any) -> datetime | None:
    """A point in time from a coerced argument value (naive values are taken as UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


def points_in_range(start: datetime, end: datetime, step_seconds: float) -> int:
    """Upper bound on the buckets of ``step_seconds`` overlapping ``[start, end]``."""
    span = (end - start).total_seconds()
    if span < 0:
        return 0
    return math.ceil(span / step_seconds) + 1
