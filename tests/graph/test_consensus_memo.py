"""Consensuses are kept across requests by the value of their inputs, never served stale.

``resolvers.prices.consensus_of`` keeps each quote set's consensus per (rates,
stale flags) and re-reads its ages at every instant. These tests compare every
answer with a fresh ``agree`` over the same quotes at the same instant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from resolvers.config import GraphConfig
from resolvers.consensus import agree
from resolvers.instant import Instant
from resolvers.prices import consensus_of
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


def fresh(records: list[QuoteRecord], at: datetime) -> Any:
    return agree(
        source_prices(records, "USD", {}, CFG.quote_currency_assets),
        quote="USD",
        at=at,
        stale_after=CFG.stale_after,
        threshold=CFG.consensus_mad_threshold,
        min_deviation=CFG.consensus_min_deviation,
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
