"""Record validation: strict readers, record checks, and quarantine of bad rows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.records import CandleRecord, MarketQuote
from sources.validate import (
    BadRecord,
    amount_of,
    check_candle,
    check_quote,
    collect,
    decimal_of,
    int_of,
    price_of,
    time_from_iso,
    time_from_ms,
    time_from_s,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("64321.12000000", Decimal("64321.12000000")),
        (Decimal("0.1"), Decimal("0.1")),
        (7, Decimal(7)),
        (
            0.1,
            Decimal("0.1"),
        ),  # a Python float goes through its shortest repr, not its binary value
        (" 1.5 ", Decimal("1.5")),
    ],
)
def test_decimal_of_parses_exactly(value, expected):
    assert decimal_of(value, "x") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing_field"),
        (True, "wrong_type"),
        ([1], "wrong_type"),
        ({"a": 1}, "wrong_type"),
        ("abc", "wrong_type"),
        ("", "wrong_type"),
        ("NaN", "non_finite"),
        ("Infinity", "non_finite"),
        (Decimal("NaN"), "non_finite"),
        (float("inf"), "non_finite"),
    ],
)
def test_decimal_of_rejects(value, reason):
    with pytest.raises(BadRecord) as info:
        decimal_of(value, "x")
    assert info.value.reason == reason


def test_price_and_amount_ranges():
    with pytest.raises(BadRecord, match="non_positive"):
        price_of("0.00000000", "p")
    with pytest.raises(BadRecord, match="non_positive"):
        price_of(-1, "p")
    assert amount_of("0", "v") == 0
    with pytest.raises(BadRecord, match="negative"):
        amount_of("-0.1", "v")


def test_int_of_accepts_integral_numbers_only():
    assert int_of("42", "n") == 42
    assert int_of(Decimal("42.0"), "n") == 42
    with pytest.raises(BadRecord):
        int_of("4.2", "n")
    with pytest.raises(BadRecord):
        int_of(False, "n")


def test_timestamps_are_aware_utc_and_bounded():
    assert time_from_ms(1767225600000, "t") == T0
    assert time_from_s("1767225600", "t") == T0
    assert time_from_iso("2026-01-01T00:00:00.000Z", "t") == T0
    assert time_from_iso("2026-01-01T01:00:00+01:00", "t") == T0
    assert time_from_iso("2026-01-01", "t") == T0
    assert time_from_ms(1767225600000, "t").tzinfo is UTC
    # Seconds read as milliseconds land in 1970; microseconds as ms land past 2100.
    with pytest.raises(BadRecord, match="bad_timestamp"):
        time_from_ms(1767225600, "t")
    with pytest.raises(BadRecord, match="bad_timestamp"):
        time_from_ms(1767225600000000, "t")
    with pytest.raises(BadRecord, match="bad_timestamp"):
        time_from_iso("2026-01-01T00:00:00", "t")  # naive datetime: ambiguous
    with pytest.raises(BadRecord, match="bad_timestamp"):
        time_from_iso("yesterday", "t")


def candle(o, h, lo, c):
    return CandleRecord("s", "X", "USD", "1h", T0, Decimal(o), Decimal(h), Decimal(lo), Decimal(c))


def test_candle_invariants():
    check_candle(candle(2, 3, 1, 2.5))
    check_candle(candle(1, 1, 1, 1))
    for bad in (candle(2, 1, 3, 2), candle(4, 3, 1, 2), candle(2, 3, 1, 0.5)):
        with pytest.raises(BadRecord, match="ohlc_inconsistent"):
            check_candle(bad)


def test_quote_checks_high_low_and_crossed_book():
    good = MarketQuote("s", "X", "USD", Decimal(2), T0, high_24h=Decimal(3), low_24h=Decimal(1))
    assert check_quote(good) is good
    with pytest.raises(BadRecord):
        check_quote(
            MarketQuote("s", "X", "USD", Decimal(2), T0, high_24h=Decimal(1), low_24h=Decimal(3))
        )
    with pytest.raises(BadRecord):
        check_quote(MarketQuote("s", "X", "USD", Decimal(2), T0, bid=Decimal(3), ask=Decimal(2)))


def test_collect_keeps_good_rows_and_reports_bad_ones_once_per_batch():
    reports = []
    batch = collect(
        "s",
        "price",
        ["1", "2", "-3", "x", None, "4"],
        lambda row: price_of(row, "p"),
        lambda kind, counts: reports.append((kind, dict(counts))),
    )
    assert batch.records == (Decimal(1), Decimal(2), Decimal(4))
    assert [q.reason for q in batch.quarantined] == ["non_positive", "wrong_type", "missing_field"]
    assert reports == [("price", {"non_positive": 1, "wrong_type": 1, "missing_field": 1})]
    assert all(q.source == "s" and q.kind == "price" for q in batch.quarantined)


@given(
    st.lists(
        st.one_of(
            st.decimals(allow_nan=True, allow_infinity=True),
            st.text(max_size=8),
            st.none(),
            st.booleans(),
            st.integers(),
        ),
        max_size=30,
    )
)
def test_collect_never_returns_an_invalid_price(rows):
    batch = collect("s", "price", rows, lambda row: price_of(row, "p"))
    assert len(batch.records) + len(batch.quarantined) == len(rows)
    assert all(p.is_finite() and p > 0 for p in batch.records)
