"""Pure-function tests of interval bucketing and on-read aggregation."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from resolvers.intervals import (
    INTERVALS,
    UnknownInterval,
    aggregate,
    close_time,
    count_between,
    divides,
    floor,
    parse_interval,
    pick_source,
    shift,
    source_candidates,
)
from storage.records import CandleRecord

IV = INTERVALS


def c(t: datetime, o, h, low, cl, v="1", *, interval="1d", source="x", complete=True):
    return CandleRecord(
        source=source,
        asset_id=1,
        quote_currency="USD",
        interval=interval,
        open_time=t,
        open=Decimal(o),
        high=Decimal(h),
        low=Decimal(low),
        close=Decimal(cl),
        volume=None if v is None else Decimal(v),
        is_complete=complete,
    )


def test_parse_rejects_unknown_and_is_case_sensitive():
    assert parse_interval("1m").seconds == 60
    assert parse_interval("1M").is_month
    with pytest.raises(UnknownInterval, match="1m, 3m"):
        parse_interval("7m")


def test_week_buckets_start_on_monday():
    wed = datetime(2024, 3, 13, 15, 30, tzinfo=UTC)
    start = floor(IV["1w"], wed)
    assert start == datetime(2024, 3, 11, tzinfo=UTC)
    assert start.weekday() == 0
    sunday_night = datetime(2024, 3, 17, 23, 59, 59, tzinfo=UTC)
    assert floor(IV["1w"], sunday_night) == start
    assert floor(IV["1w"], datetime(2024, 3, 18, tzinfo=UTC)) == datetime(2024, 3, 18, tzinfo=UTC)


def test_month_buckets_are_calendar_months():
    t = datetime(2024, 2, 29, 23, 0, tzinfo=UTC)
    start = floor(IV["1M"], t)
    assert start == datetime(2024, 2, 1, tzinfo=UTC)
    assert close_time(IV["1M"], start) == datetime(2024, 3, 1, tzinfo=UTC)
    assert shift(IV["1M"], datetime(2024, 1, 1, tzinfo=UTC), -1) == datetime(
        2023, 12, 1, tzinfo=UTC
    )
    assert (
        count_between(IV["1M"], datetime(2023, 11, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))
        == 4
    )


def test_fixed_buckets_align_to_epoch():
    t = datetime(2024, 3, 14, 15, 31, 7, tzinfo=UTC)
    assert floor(IV["4h"], t) == datetime(2024, 3, 14, 12, tzinfo=UTC)
    assert floor(IV["15m"], t) == datetime(2024, 3, 14, 15, 30, tzinfo=UTC)
    # 3d buckets count from 1970-01-01: 19796 days to 2024-03-14, 19794 = 3 * 6598.
    assert floor(IV["3d"], t) == datetime(2024, 3, 12, tzinfo=UTC)


def test_divides():
    assert divides(IV["1d"], IV["1w"])
    assert divides(IV["8h"], IV["1w"])
    assert not divides(IV["3d"], IV["1w"])
    assert divides(IV["1d"], IV["1M"])
    assert not divides(IV["1w"], IV["1M"])
    assert not divides(IV["3d"], IV["1M"])
    assert divides(IV["1h"], IV["1h"])
    assert not divides(IV["1h"], IV["30m"])


def test_candidates_coarsest_first():
    assert [i.name for i in source_candidates(IV["1h"])] == ["1h", "30m", "15m", "5m", "3m", "1m"]
    assert [i.name for i in source_candidates(IV["1w"])][:2] == ["1w", "1d"]
    assert "3d" not in [i.name for i in source_candidates(IV["1M"])]


def test_weekly_aggregation_from_days_with_boundaries():
    # Sun 10 Mar .. Tue 19 Mar: Sunday belongs to the previous week.
    days = [datetime(2024, 3, 10, tzinfo=UTC) + timedelta(days=i) for i in range(10)]
    rows = [c(d, 10 + i, 20 + i, 5 + i, 11 + i) for i, d in enumerate(days)]
    at = datetime(2024, 3, 30, tzinfo=UTC)
    out = aggregate(
        rows,
        IV["1w"],
        IV["1d"],
        first=datetime(2024, 3, 4, tzinfo=UTC),
        last=datetime(2024, 3, 18, tzinfo=UTC),
        at=at,
    )
    assert [b.open_time.day for b in out] == [4, 11, 18]
    prev, full, partial = out
    assert (prev.open, prev.close, prev.parts, prev.is_complete) == (10, 11, 1, False)
    assert full.open == 11 and full.close == 18  # open of Mon 11, close of Sun 17
    assert full.high == 27 and full.low == 6
    assert full.volume == 7 and full.parts == full.expected_parts == 7
    assert full.is_complete
    assert full.close_time == datetime(2024, 3, 18, tzinfo=UTC)
    assert (partial.parts, partial.expected_parts, partial.is_complete) == (2, 7, False)


def test_monthly_aggregation_counts_days_of_each_month():
    feb = [datetime(2024, 2, 1, tzinfo=UTC) + timedelta(days=i) for i in range(29)]
    rows = [c(d, 1, 2, 1, 1) for d in feb]
    at = datetime(2024, 4, 1, tzinfo=UTC)
    (b,) = aggregate(rows, IV["1M"], IV["1d"], first=feb[0], last=feb[0], at=at)
    assert b.expected_parts == 29 and b.is_complete
    (b,) = aggregate(rows[:-1], IV["1M"], IV["1d"], first=feb[0], last=feb[0], at=at)
    assert not b.is_complete


def test_forming_bucket_and_incomplete_part():
    t0 = datetime(2024, 3, 14, 10, tzinfo=UTC)
    rows = [c(t0 + timedelta(minutes=i), 1, 1, 1, 1, interval="1m") for i in range(60)]
    at = t0 + timedelta(minutes=59, seconds=30)  # the 10:59 minute is still forming
    (b,) = aggregate(rows, IV["1h"], IV["1m"], first=t0, last=t0, at=at)
    assert b.parts == 60 and not b.is_complete
    (b,) = aggregate(rows, IV["1h"], IV["1m"], first=t0, last=t0, at=t0 + timedelta(hours=2))
    assert b.is_complete
    rows[5] = c(rows[5].open_time, 1, 1, 1, 1, interval="1m", complete=False)
    (b,) = aggregate(rows, IV["1h"], IV["1m"], first=t0, last=t0, at=t0 + timedelta(hours=2))
    assert not b.is_complete


def test_empty_bucket_is_omitted_and_volume_none_when_missing():
    t0 = datetime(2024, 3, 14, tzinfo=UTC)
    rows = [
        c(t0, 1, 1, 1, 1, v=None, interval="1h"),
        c(t0 + timedelta(hours=2), 1, 1, 1, 1, interval="1h"),
    ]
    out = aggregate(
        rows, IV["1h"], IV["1h"], first=t0, last=t0 + timedelta(hours=2), at=t0 + timedelta(days=1)
    )
    assert [b.open_time.hour for b in out] == [0, 2]
    assert out[0].volume is None and out[1].volume == 1


def test_pick_source_prefers_most_candles_then_name():
    t = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        c(t, 1, 1, 1, 1, source="b"),
        c(t, 1, 1, 1, 1, source="a"),
        c(t, 1, 1, 1, 1, source="b"),
    ]
    assert pick_source(rows) == "b"
    assert pick_source(rows[1:2] + rows[:1]) == "a"
    assert pick_source([]) is None


def test_misaligned_stored_candle_joins_its_bucket():
    t0 = datetime(2024, 3, 14, tzinfo=UTC)
    rows = [
        c(t0, 1, 2, 1, 2, interval="1h"),
        c(t0 + timedelta(minutes=30), 2, 5, 2, 3, interval="1h"),
    ]
    (b,) = aggregate(rows, IV["1h"], IV["1h"], first=t0, last=t0, at=t0 + timedelta(days=1))
    assert (b.open, b.high, b.close, b.parts) == (1, 5, 3, 2)
