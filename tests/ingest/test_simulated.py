"""The simulated market: deterministic, random-access, OHLC-consistent, clearly labelled."""

from __future__ import annotations

import itertools
import math
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from sources.records import INTERVAL_SECONDS
from sources.simulated import ASSETS, VENUES, SimulatedMarket, is_simulated

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_same_seed_same_values_in_any_order():
    a, b = SimulatedMarket(7), SimulatedMarket(7)
    later = T0 + timedelta(days=30, seconds=17)
    # b computes the later instant first: random access must not depend on history.
    pb_late = b.quote("bitcoin", VENUES[0], later).price
    pb = b.quote("bitcoin", VENUES[0], T0).price
    assert a.quote("bitcoin", VENUES[0], T0).price == pb
    assert a.quote("bitcoin", VENUES[0], later).price == pb_late
    assert SimulatedMarket(8).quote("bitcoin", VENUES[0], T0).price != pb


def test_candles_keep_ohlc_invariants_and_labels():
    m = SimulatedMarket(1)
    for interval, n in (("1m", 240), ("1h", 72), ("1d", 10)):
        span = timedelta(seconds=n * INTERVAL_SECONDS[interval])
        for venue in VENUES:
            start = T0.replace(hour=0)
            for c in m.candles("solana", venue, interval, start, start + span):
                assert c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high
                assert c.volume is not None
                assert c.volume >= 0
                assert is_simulated(c.source)
                assert c.source == venue.source
                assert c.quote_currency == "USD"
                assert c.interval == interval


def test_minute_candles_are_continuous_and_match_live_ticks():
    m = SimulatedMarket(3)
    venue = VENUES[0]
    minute = T0 + timedelta(minutes=5)
    partial = m.candle("ethereum", venue, "1m", minute, now=minute + timedelta(seconds=20))
    assert not partial.is_complete
    # The forming candle closes at exactly the tick the live feed publishes at that second.
    assert partial.close == m.quote("ethereum", venue, minute + timedelta(seconds=20)).price
    full = m.candle("ethereum", venue, "1m", minute)
    assert full.is_complete
    assert full.open == partial.open
    assert full.high >= partial.high
    assert full.low <= partial.low


def test_venues_disagree_by_basis_points_only():
    m = SimulatedMarket(5)
    prices = [m.quote("bitcoin", v, T0).price for v in VENUES]
    mid = statistics.median(prices)
    assert len(set(prices)) == len(VENUES)
    assert all(abs(p / mid - 1) < 0.005 for p in prices)


def test_stablecoins_stay_near_their_peg_over_a_year():
    m = SimulatedMarket(11)
    for day in range(0, 365, 7):
        p = m.reference_price("usd-coin", T0 + timedelta(days=day, hours=5))
        assert 0.99 < p < 1.01


def test_realised_volatility_is_in_the_configured_ballpark():
    m = SimulatedMarket(2)
    asset = next(a for a in ASSETS if a.canonical_id == "bitcoin")
    closes = [m.reference_price("bitcoin", T0 + timedelta(days=d)) for d in range(200)]
    rets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    annual = statistics.pstdev(rets) * math.sqrt(365)
    assert asset.annual_vol * 0.65 < annual < asset.annual_vol * 1.35


def test_unaligned_open_time_is_refused():
    with pytest.raises(ValueError, match="not aligned"):
        SimulatedMarket().candle("bitcoin", VENUES[0], "1h", T0 + timedelta(minutes=1))
