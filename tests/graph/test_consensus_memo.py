"""Consensuses are kept across requests by the value of their inputs, never served stale.

``resolvers.prices.consensus_of`` keeps each quote set's consensus per (rates,
stale flags) and re-reads its ages at every instant. These tests compare every
answer with a fresh ``agree`` over the same quotes at the same instant.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from resolvers.config import GraphConfig
from resolvers.consensus import age_at, agree
from resolvers.instant import Instant
from resolvers.prices import _Prepared, consensus_of
from resolvers.quotes import source_prices
from storage.records import QuoteRecord

T = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CFG = GraphConfig(stale_after_seconds=60)


def quotes(*prices: str, age: int = 10, late: int | None = None) -> list[QuoteRecord]:
    """Fresh records each call (as a database read returns): equal values, new objects."""
    out = []
    for i, p in enumerate(prices):
        seconds = late if late is not None and i == len(prices) - 1 else age
        out.append(
            QuoteRecord(
                f"s{i}",
                1,
                "USD",
                Decimal(p),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                T - timedelta(seconds=seconds),
            )
        )
    return out


def ctx() -> Any:
    return SimpleNamespace(graph=CFG, extra={})


def fresh(records: list[QuoteRecord], at: datetime, cfg: Any = CFG) -> Any:
    """The consensus computed from scratch, no memo involved."""
    return agree(
        source_prices(records, "USD", {}, cfg.quote_currency_assets),
        quote="USD",
        at=at,
        stale_after=cfg.stale_after,
        threshold=cfg.consensus_mad_threshold,
        min_deviation=cfg.consensus_min_deviation,
    )


async def test_equal_quotes_reuse_the_consensus_and_later_instants_only_age_it():
    first = await consensus_of(ctx(), quotes("100", "101", "102"), Instant(T), "USD")
    again = await consensus_of(ctx(), quotes("100", "101", "102"), Instant(T), "USD")
    assert again is first  # new records with equal values: computed once
    later = T + timedelta(seconds=20)
    aged = await consensus_of(ctx(), quotes("100", "101", "102"), Instant(later), "USD")
    assert aged == fresh(quotes("100", "101", "102"), later)
    assert aged.age_seconds == 30 and aged.value == first.value


async def test_a_quote_turning_stale_or_a_new_price_is_computed_afresh():
    records = quotes("100", "101", "102", late=50)
    now = await consensus_of(ctx(), records, Instant(T), "USD")
    assert now == fresh(records, T)
    assert now.source_count == 3
    # 15 s later the last quote is 65 s old: stale, so it leaves the median
    later = T + timedelta(seconds=15)
    turned = await consensus_of(ctx(), quotes("100", "101", "102", late=50), Instant(later), "USD")
    assert turned == fresh(records, later)
    assert turned.source_count == 2 and turned.value == Decimal("100.5")
    moved = await consensus_of(ctx(), quotes("100", "101", "104"), Instant(T), "USD")
    assert moved == fresh(quotes("100", "101", "104"), T)
    assert moved.value == Decimal("101")


# Stale flags are kept per quote set with the interval of instants they hold for
# (``resolvers.prices._Prepared.stale``): whatever instant reads a set, and in
# whatever order, its flags are the age rule at that instant.

SOURCES = ("s0", "s1", "s2", "s3")


def _records(offsets_us: list[int]) -> list[QuoteRecord]:
    return [
        replace(
            quotes(str(100 + i))[0], source=SOURCES[i], observed_at=T - timedelta(microseconds=o)
        )
        for i, o in enumerate(offsets_us)
    ]


def _steps(records: list[QuoteRecord], stale_after: Any) -> list[datetime]:
    """Each quote's first stale instant (and its neighbours): where flags change."""
    out = []
    for r in records:
        turns = r.observed_at + timedelta(seconds=stale_after(r.source) + 1)
        out += [turns - timedelta(microseconds=1), turns, turns + timedelta(microseconds=1)]
    return out


_offsets = st.lists(st.integers(-(10**8), 10**9), min_size=1, max_size=4)
_thresholds = st.lists(st.integers(-2, 900), min_size=4, max_size=4)
_shifts = st.lists(st.integers(-(10**9), 2 * 10**9), min_size=1, max_size=6)


@given(offsets=_offsets, thresholds=_thresholds, first=st.integers(-(10**9), 2 * 10**9))
@settings(max_examples=300, deadline=None)
def test_kept_stale_flags_are_the_age_rule_at_every_instant_of_their_interval(
    offsets: list[int], thresholds: list[int], first: int
) -> None:
    records = _records(offsets)
    stale_after = dict(zip(SOURCES, thresholds, strict=True)).__getitem__
    prepared = _Prepared((), records)
    at = T + timedelta(microseconds=first)

    def rule(when: datetime) -> tuple[bool, ...]:
        return tuple(age_at(when, r.observed_at) > stale_after(r.source) for r in records)

    flags = prepared.stale_flags(at, stale_after)
    since, until, kept = prepared.stale
    assert flags == kept == rule(at)
    assert since <= at < until
    one = timedelta(microseconds=1)
    near = [since, until - one, at - one, at + one, *_steps(records, stale_after)]
    for when in near:
        if since <= when < until:
            assert rule(when) == kept, when


@given(offsets=_offsets, thresholds=_thresholds, shifts=_shifts)
@settings(max_examples=150, deadline=None)
async def test_a_quote_set_read_at_instants_in_any_order_is_the_age_rule_at_each(
    offsets: list[int], thresholds: list[int], shifts: list[int]
) -> None:
    """New records with equal values at every read (so the set's memo entry is shared),
    instants on and beside every staleness step, forwards and backwards."""
    cfg = GraphConfig(
        stale_after_seconds=thresholds[0],
        stale_after_seconds_by_source=dict(zip(SOURCES[1:], thresholds[1:], strict=True)),
    )
    instants = [T + timedelta(microseconds=s) for s in shifts]
    instants += _steps(_records(offsets), cfg.stale_after)[::2]
    for at in instants:
        records = _records(offsets)
        reader: Any = SimpleNamespace(graph=cfg, extra={})
        got = await consensus_of(reader, records, Instant(at), "USD")
        assert got == fresh(records, at, cfg), at


def test_a_quote_turning_stale_past_the_last_datetime_is_fresh_from_then_on() -> None:
    last = datetime.max.replace(tzinfo=UTC)
    records = _records([0])
    records[0] = replace(records[0], observed_at=last - timedelta(seconds=30))
    prepared = _Prepared((), records)
    assert prepared.stale_flags(T, lambda _source: 60) == (False,)
    assert prepared.stale == (datetime.min.replace(tzinfo=UTC), last, (False,))
