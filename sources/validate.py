"""Record validation: a bad upstream record is quarantined and counted, never returned.

Adapters parse each row of a response with the strict field readers below and
then run the record-level checks (:func:`check_quote`, :func:`check_candle`).
Any failure raises :class:`BadRecord` with a short machine-readable *reason*;
:func:`collect` catches it per row, so one bad row costs only itself, never
the whole batch, and the good rows come back in a :class:`~sources.records.Batch`
with the rejects listed beside them.

What counts as bad (reason codes, also the metric label):

- ``missing_field``: a required key is absent or null;
- ``wrong_type``: a value of the wrong JSON type (a bool or list for a price,
  a non-numeric string, a row that is not an object/array);
- ``non_finite``: NaN or ±Infinity;
- ``non_positive``: a price ≤ 0;  ``negative``: a volume/market cap < 0;
- ``ohlc_inconsistent``: high < low, or open/close outside [low, high];
- ``bad_timestamp``: unparseable, naive, or outside 2009-01-03 … 2100 (which
  catches seconds/milliseconds/microseconds mix-ups).

Readers never coerce silently: a JSON float already arrives as ``Decimal``
(``parse_float=Decimal``), a numeric string is parsed exactly, and a Python
``float`` is only accepted through its shortest ``repr``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from sources.records import Batch, CandleRecord, MarketQuote, Quarantined

T = TypeVar("T")

EARLIEST = datetime(2009, 1, 3, tzinfo=UTC)  # the Bitcoin genesis block
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
RAW_EXCERPT = 300


class BadRecord(ValueError):
    """One row failed validation; ``reason`` is a short code, ``detail`` says where."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------- readers


def decimal_of(value: Any, name: str) -> Decimal:
    """Parse a number exactly; reject bools, non-numbers and non-finite values."""
    if value is None:
        raise BadRecord("missing_field", name)
    if isinstance(value, bool):
        raise BadRecord("wrong_type", f"{name} is a bool")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise BadRecord("wrong_type", f"{name}={value[:40]!r} is not a number") from None
    else:
        raise BadRecord("wrong_type", f"{name} is {type(value).__name__}")
    if not result.is_finite():
        raise BadRecord("non_finite", f"{name}={value!r}")
    return result


def price_of(value: Any, name: str) -> Decimal:
    """A price: a finite number > 0."""
    result = decimal_of(value, name)
    if result <= 0:
        raise BadRecord("non_positive", f"{name}={result}")
    return result


def amount_of(value: Any, name: str) -> Decimal:
    """A volume, market cap or supply: a finite number ≥ 0."""
    result = decimal_of(value, name)
    if result < 0:
        raise BadRecord("negative", f"{name}={result}")
    return result


def optional(reader: Callable[[Any, str], T], value: Any, name: str) -> T | None:
    """``reader`` applied to ``value`` unless it is null/absent (then ``None``)."""
    return None if value is None else reader(value, name)


def int_of(value: Any, name: str) -> int:
    if value is None:
        raise BadRecord("missing_field", name)
    if isinstance(value, bool):
        raise BadRecord("wrong_type", f"{name} is a bool")
    if isinstance(value, int):
        return value
    number = decimal_of(value, name)
    if number != number.to_integral_value():
        raise BadRecord("wrong_type", f"{name}={value!r} is not an integer")
    return int(number)


def text_of(value: Any, name: str) -> str:
    if value is None:
        raise BadRecord("missing_field", name)
    if not isinstance(value, str):
        raise BadRecord("wrong_type", f"{name} is {type(value).__name__}")
    if not value.strip():
        raise BadRecord("missing_field", f"{name} is empty")
    return value


def _bounded(ts: datetime, name: str) -> datetime:
    if not EARLIEST <= ts < LATEST:
        raise BadRecord("bad_timestamp", f"{name}={ts.isoformat()} out of range")
    return ts


def time_from_ms(value: Any, name: str) -> datetime:
    """Unix milliseconds → aware UTC."""
    ms = int_of(value, name)
    try:
        ts = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    except OverflowError:
        raise BadRecord("bad_timestamp", f"{name}={ms}") from None
    return _bounded(ts, name)


def time_from_s(value: Any, name: str) -> datetime:
    """Unix seconds (number or numeric string) → aware UTC."""
    seconds = decimal_of(value, name)
    try:
        ts = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=float(seconds))
    except OverflowError:
        raise BadRecord("bad_timestamp", f"{name}={seconds}") from None
    return _bounded(ts, name)


def time_from_iso(value: Any, name: str) -> datetime:
    """ISO 8601 (``Z`` or an offset; a bare date is midnight UTC) → aware UTC."""
    raw = text_of(value, name)
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRecord("bad_timestamp", f"{name}={raw[:40]!r}") from None
    if ts.tzinfo is None:
        if len(raw) > 10:  # a datetime without a zone is ambiguous; a date is a UTC day
            raise BadRecord("bad_timestamp", f"{name}={raw!r} has no time zone")
        ts = ts.replace(tzinfo=UTC)
    return _bounded(ts.astimezone(UTC), name)


def required(row: Mapping[str, Any], key: str) -> Any:
    """A required key of an object row."""
    if key not in row or row[key] is None:
        raise BadRecord("missing_field", key)
    return row[key]


def as_object(row: Any) -> Mapping[str, Any]:
    if not isinstance(row, Mapping):
        raise BadRecord("wrong_type", f"row is {type(row).__name__}, not an object")
    return row


def as_array(row: Any, min_len: int) -> list[Any]:
    if not isinstance(row, list):
        raise BadRecord("wrong_type", f"row is {type(row).__name__}, not an array")
    if len(row) < min_len:
        raise BadRecord("missing_field", f"array of {len(row)} < {min_len} items")
    return row


# --------------------------------------------------------------------------- checks


def check_quote(quote: MarketQuote) -> MarketQuote:
    """Cross-field checks of a quote (each field was already range-checked)."""
    if quote.high_24h is not None and quote.low_24h is not None and quote.high_24h < quote.low_24h:
        raise BadRecord("ohlc_inconsistent", f"high_24h {quote.high_24h} < low_24h {quote.low_24h}")
    if quote.bid is not None and quote.ask is not None and quote.ask < quote.bid and quote.ask > 0:
        raise BadRecord("ohlc_inconsistent", f"ask {quote.ask} < bid {quote.bid}")
    return quote


def check_candle(candle: CandleRecord) -> CandleRecord:
    """OHLC invariants: low ≤ open, close ≤ high (and low ≤ high)."""
    lo, hi = candle.low, candle.high
    if hi < lo:
        raise BadRecord("ohlc_inconsistent", f"high {hi} < low {lo}")
    for name, value in (("open", candle.open), ("close", candle.close)):
        if not lo <= value <= hi:
            raise BadRecord("ohlc_inconsistent", f"{name} {value} outside [{lo}, {hi}]")
    return candle


# --------------------------------------------------------------------------- collect


def _excerpt(row: Any) -> str:
    text = repr(row)
    return text if len(text) <= RAW_EXCERPT else text[:RAW_EXCERPT] + "…"


def collect(
    source: str,
    kind: str,
    rows: Iterable[Any],
    parse: Callable[[Any], T],
    on_quarantine: Callable[[str, Mapping[str, int]], None] | None = None,
) -> Batch[T]:
    """Parse every row; keep the good ones, quarantine (and report) the bad ones.

    ``on_quarantine(kind, {reason: count})`` is called once per batch that had
    rejects (the resilient client's :meth:`note_quarantined` fits it).
    """
    good: list[T] = []
    bad: list[Quarantined] = []
    for row in rows:
        try:
            good.append(parse(row))
        except BadRecord as exc:
            bad.append(Quarantined(source, kind, exc.reason, f"{exc.detail} | {_excerpt(row)}"))
    if bad and on_quarantine is not None:
        on_quarantine(kind, Counter(q.reason for q in bad))
    return Batch(tuple(good), tuple(bad))


__all__ = [
    "BadRecord",
    "amount_of",
    "as_array",
    "as_object",
    "check_candle",
    "check_quote",
    "collect",
    "decimal_of",
    "int_of",
    "optional",
    "price_of",
    "required",
    "text_of",
    "time_from_iso",
    "time_from_ms",
    "time_from_s",
]
