"""Pure-function tests of the consensus rule (median, MAD outliers, staleness)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from resolvers.consensus import (
    Excluded,
    Method,
    SourcePrice,
    age_at,
    agree,
    median,
    outliers,
    reaged,
    stale_cutoff,
)

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
K = Decimal("3.5")
FLOOR = Decimal("0.001")


def entry(source: str, price: str | None, age: int = 10, currency: str = "USD") -> SourcePrice:
    return SourcePrice(
        source=source,
        price=None if price is None else Decimal(price),
        quote="USD",
        original_currency=currency,
        original_price=Decimal(price or "1"),
        observed_at=AT - timedelta(seconds=age),
    )


def run(entries, stale_after=60):
    return agree(
        entries,
        quote="USD",
        at=AT,
        stale_after=lambda _s: stale_after,
        threshold=K,
        min_deviation=FLOOR,
    )


def test_median_odd_and_even():
    assert median([Decimal(3), Decimal(1), Decimal(2)]) == 2
    assert median([Decimal("1"), Decimal("2"), Decimal("4"), Decimal("10")]) == Decimal("3")
    assert median([Decimal("0.1"), Decimal("0.2")]) == Decimal("0.15")
    with pytest.raises(ValueError):
        median([])


def test_median_is_exact_for_long_decimals():
    a = Decimal("123456789012345678901.123456789012345678")
    b = Decimal("123456789012345678901.123456789012345680")
    assert median([a, b]) == Decimal("123456789012345678901.123456789012345679")


def test_mad_rejects_a_far_quote_and_keeps_close_ones():
    values = [Decimal(v) for v in ("100.0", "100.2", "99.9", "100.1", "130")]
    assert outliers(values, threshold=K, min_deviation=FLOOR) == [False] * 4 + [True]


def test_mad_floor_keeps_tiny_deviation_when_others_agree_exactly():
    # MAD is 0 here; without the floor 100.05 would be "infinitely" far out.
    values = [Decimal("100"), Decimal("100"), Decimal("100.05")]
    assert outliers(values, threshold=K, min_deviation=FLOOR) == [False, False, False]
    # ...but a 1 % deviation is beyond 3.5 x 0.1 % of the median.
    values = [Decimal("100"), Decimal("100"), Decimal("101")]
    assert outliers(values, threshold=K, min_deviation=FLOOR) == [False, False, True]


def test_two_quotes_never_reject_each_other():
    assert outliers([Decimal(1), Decimal(1000)], threshold=K, min_deviation=FLOOR) == [False, False]


def test_agree_median_spread_and_outlier_named():
    c = run([entry("a", "100"), entry("b", "102"), entry("c", "101"), entry("d", "150")])
    assert c is not None
    assert c.value == Decimal("101")
    assert c.method == Method.MEDIAN
    assert c.outliers == ("d",)
    assert c.source_count == 3
    assert c.spread == Decimal("0.019801980198")  # (102 - 100) / 101, 12 places
    by = {v.entry.source: v for v in c.sources}
    assert by["d"].excluded == Excluded.OUTLIER and not by["d"].used
    assert all(by[s].used for s in "abc")
    assert c.observed_at == AT - timedelta(seconds=10)


def test_stale_quotes_are_left_out_while_fresh_ones_exist():
    c = run([entry("fresh", "100", age=5), entry("old", "90", age=600)])
    assert c is not None
    assert c.value == Decimal("100")
    assert c.method == Method.SINGLE_SOURCE
    assert not c.stale
    old = next(v for v in c.sources if v.entry.source == "old")
    assert old.stale and not old.used and old.excluded == Excluded.STALE
    assert old.age_seconds == 600


def test_all_stale_uses_last_known_values_flagged():
    c = run([entry("a", "100", age=600), entry("b", "110", age=700)])
    assert c is not None
    assert c.stale
    assert c.method == Method.LAST_KNOWN
    assert c.value == Decimal("105")
    assert c.age_seconds == 600
    assert all(v.used and v.stale for v in c.sources)


def test_per_source_threshold():
    entries = [entry("slow", "100", age=100), entry("fast", "101", age=100)]
    c = agree(
        entries,
        quote="USD",
        at=AT,
        stale_after=lambda s: 300 if s == "slow" else 60,
        threshold=K,
        min_deviation=FLOOR,
    )
    assert c is not None
    assert c.value == Decimal("100")
    assert [v.entry.source for v in c.sources if v.used] == ["slow"]


def test_unconvertible_quote_is_listed_but_not_used():
    c = run([entry("a", "100"), entry("b", None, currency="USDT")])
    assert c is not None
    assert c.value == Decimal("100")
    b = next(v for v in c.sources if v.entry.source == "b")
    assert b.excluded == Excluded.NO_CONVERSION_RATE and not b.used


def test_nothing_priced_means_no_consensus():
    assert run([]) is None
    assert run([entry("b", None, currency="USDT")]) is None


@settings(max_examples=200, deadline=None)
@given(
    ages=st.lists(st.integers(min_value=-5, max_value=400), min_size=1, max_size=6),
    prices=st.lists(st.integers(min_value=90, max_value=130), min_size=6, max_size=6),
    shift=st.integers(min_value=-120, max_value=120),
)
def test_a_consensus_read_at_another_instant_with_the_same_stale_flags_only_ages(
    ages, prices, shift
):
    # What resolvers.prices relies on to keep consensuses across requests.
    entries = [entry(f"s{i}", str(prices[i]), age=a) for i, a in enumerate(ages)]
    later = AT + timedelta(seconds=shift)

    def flags(at):
        return [age_at(at, e.observed_at) > 60 for e in entries]

    assume(flags(AT) == flags(later))
    first = run(entries)
    fresh = agree(
        entries,
        quote="USD",
        at=later,
        stale_after=lambda _s: 60,
        threshold=K,
        min_deviation=FLOOR,
    )
    assert first is not None and fresh is not None
    assert reaged(first, later) == fresh


@given(
    at_us=st.integers(min_value=0, max_value=10**15),
    back_us=st.integers(min_value=-(10**9), max_value=10**13),
    stale_after=st.integers(min_value=-5, max_value=10**7),
)
@settings(max_examples=500, deadline=None)
def test_stale_cutoff_agrees_with_whole_second_ages(at_us, back_us, stale_after):
    """The cutoff the consensus memo compares against is the age rule, exactly —
    including observations a microsecond either side of a whole-second boundary."""
    at = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(microseconds=at_us)
    for observed in (
        at - timedelta(microseconds=back_us),
        at - timedelta(seconds=stale_after + 1),
        at - timedelta(seconds=stale_after + 1) + timedelta(microseconds=1),
    ):
        cutoff = stale_cutoff(at, stale_after)
        by_cutoff = cutoff is None or observed <= cutoff
        assert by_cutoff == (age_at(at, observed) > stale_after)
