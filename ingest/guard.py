"""The last check before a row is written: a bad record is counted, never stored.

Adapters already validate what they parse (:mod:`sources.validate`); this guard
runs again on everything that reaches the writer, whatever produced it (an
adapter, the simulated market, an imported file), because a single bad candle
poisons every rollup and indicator computed from it. Reason codes match
:mod:`sources.validate` where they overlap, plus ``bad_interval``,
``misaligned`` (an open time not on the interval's grid) and ``future``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from ingest.candles import is_aligned, seconds
from sources.validate import EARLIEST

#: How far ahead of our clock an upstream timestamp may be (clock skew).
FUTURE_SLACK = timedelta(minutes=5)


class CandleLike(Protocol):
    @property
    def interval(self) -> str: ...
    @property
    def open_time(self) -> datetime: ...
    @property
    def open(self) -> Decimal: ...
    @property
    def high(self) -> Decimal: ...
    @property
    def low(self) -> Decimal: ...
    @property
    def close(self) -> Decimal: ...
    @property
    def volume(self) -> Decimal | None: ...


class QuoteLike(Protocol):
    @property
    def price(self) -> Decimal: ...
    @property
    def observed_at(self) -> datetime: ...
    @property
    def volume_24h(self) -> Decimal | None: ...
    @property
    def market_cap(self) -> Decimal | None: ...


def _time_problem(ts: datetime, now: datetime) -> str | None:
    if ts.tzinfo is None or ts < EARLIEST:
        return "bad_timestamp"
    if ts > now + FUTURE_SLACK:
        return "future"
    return None


def _number_problem(value: Decimal | None, *, positive: bool) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Decimal):
        return "wrong_type"
    if not value.is_finite():
        return "non_finite"
    if positive and value <= 0:
        return "non_positive"
    if value < 0:
        return "negative"
    return None


def candle_problem(c: CandleLike, now: datetime) -> str | None:
    """Why this candle must not be written, or ``None`` when it is fine."""
    try:
        seconds(c.interval)
    except ValueError:
        return "bad_interval"
    if problem := _time_problem(c.open_time, now):
        return problem
    if not is_aligned(c.open_time, c.interval):
        return "misaligned"
    for value in (c.open, c.high, c.low, c.close):
        if problem := _number_problem(value, positive=True):
            return problem
    if problem := _number_problem(c.volume, positive=False):
        return problem
    if not c.low <= min(c.open, c.close) or not max(c.open, c.close) <= c.high:
        return "ohlc_inconsistent"
    return None


def quote_problem(q: QuoteLike, now: datetime) -> str | None:
    """Why this quote must not be written, or ``None`` when it is fine."""
    if problem := _time_problem(q.observed_at, now):
        return problem
    if problem := _number_problem(q.price, positive=True):
        return problem
    for value in (q.volume_24h, q.market_cap):
        if problem := _number_problem(value, positive=False):
            return problem
    return None


__all__ = ["FUTURE_SLACK", "candle_problem", "quote_problem"]
