"""The batch forms of the per-asset reads, item for item the per-asset answers.

A list's assets usually share one instant object, and the batch reads take
shortcuts for a run of equal-identity instants (``per_instant``'s last value,
one window per run of keys, one set of rates per instant in a reader). These
tests interleave instants so every shortcut has to notice the switch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from resolvers.config import GraphConfig
from resolvers.consensus import agree
from resolvers.instant import Instant, per_instant
from resolvers.prices import consensus_of, consensus_prices, latest_quotes_many
from resolvers.quotes import UsdRate, source_prices
from resolvers.signals import latest_signals_many
from storage.records import QuoteRecord

T = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CFG = GraphConfig(stale_after_seconds=60)


def test_per_instant_computes_once_per_instant_object_and_follows_switches() -> None:
    made: dict[int, object] = {}

    def make(instant: Instant) -> object:
        assert id(instant) not in made
        made[id(instant)] = value = object()
        return value

    get = per_instant(make)
    a, b = Instant(T), Instant(T + timedelta(seconds=5))
    same_as_a = Instant(T)  # equal to a, another object: its own entry
    order = [a, a, b, b, a, same_as_a, same_as_a, b, a, same_as_a]
    assert [get(i) for i in order] == [made[id(i)] for i in order]
    assert list(made) == [id(a), id(b), id(same_as_a)]


class _KeysLoader:
    """Records the keys of each ``load_all`` and answers from ``answer(key)``."""

    def __init__(self, answer: Any = lambda key: []) -> None:
        self.keys: list[Any] = []
        self.answer = answer

    async def load_all(self, keys: list[Any]) -> list[Any]:
        self.keys = list(keys)
        return [self.answer(k) for k in keys]

    async def load(self, key: Any) -> Any:
        return self.answer(key)


def _ctx(**loaders: Any) -> Any:
    return SimpleNamespace(graph=CFG, extra={}, loaders=SimpleNamespace(**loaders))


async def test_batch_keys_carry_each_assets_own_instant() -> None:
    a, b = Instant(T), Instant(T - timedelta(days=1), historical=True)
    assets = [(1, a), (2, a), (3, b), (4, a), (5, b), (6, b)]
    quotes, signals = _KeysLoader(), _KeysLoader()
    ctx = _ctx(quotes_by_asset=quotes, signals_by_asset=signals)
    await latest_quotes_many(ctx, assets)
    await latest_signals_many(ctx, assets)
    for key, (asset_id, instant) in zip(quotes.keys, assets, strict=True):
        assert key.asset_id == asset_id
        since = instant.minus(CFG.quote_max_age_seconds)
        assert (key.window.at, key.window.since) == (instant.at, since)
    for key, (asset_id, instant) in zip(signals.keys, assets, strict=True):
        since = instant.minus(CFG.signal_max_age_seconds)
        assert tuple(key) == (asset_id, instant.at, since)
    await latest_quotes_many(ctx, [])
    await latest_signals_many(ctx, [])
    assert quotes.keys == signals.keys == []


def _quote(source: str, currency: str, price: str, observed_at: datetime) -> QuoteRecord:
    return QuoteRecord(
        source, 1, currency, Decimal(price), None, None, None, None, None, None, None, None,
        observed_at,
    )  # fmt: skip


def _fresh(quotes: list[QuoteRecord], instant: Instant, rates: dict[str, UsdRate | None]) -> Any:
    return agree(
        source_prices(quotes, "USD", rates, CFG.quote_currency_assets),
        quote="USD",
        at=instant.at,
        stale_after=CFG.stale_after,
        threshold=CFG.consensus_mad_threshold,
        min_deviation=CFG.consensus_min_deviation,
    )


async def test_consensus_prices_reads_each_asset_at_its_own_instant_with_its_rates() -> None:
    """Rates are looked up per instant (tether is worth less at ``b``), stale flags and
    ages are each asset's own instant's, a failed load and an empty one pass through."""
    a, b = Instant(T), Instant(T + timedelta(seconds=45), historical=True)

    def tether_at(at: datetime) -> list[QuoteRecord]:
        price = "1.00" if at == T else "0.50"
        return [_quote("kraken", "USD", price, at - timedelta(seconds=1))]

    def rate(instant: Instant) -> UsdRate:
        price = Decimal("1.00") if instant is a else Decimal("0.50")
        return UsdRate(rate=price, observed_at=instant.at - timedelta(seconds=1), stale=False)

    def asset_quotes(asset_id: int) -> list[QuoteRecord]:
        base = 100 + asset_id
        return [
            _quote("coingecko", "USD", f"{base}", T - timedelta(seconds=20)),
            _quote("coinbase", "USD", f"{base + 1}", T - timedelta(seconds=10)),
            _quote("binance", "USDT", f"{base + 2}", T - timedelta(seconds=2)),
        ]

    failed = RuntimeError("load failed")
    answers: dict[int, Any] = {1: asset_quotes(1), 2: asset_quotes(2), 3: failed, 4: []}
    answers |= {5: asset_quotes(5), 6: asset_quotes(1)}
    ctx = _ctx(
        quotes_by_asset=_KeysLoader(lambda key: answers[key.asset_id]),
        quotes_by_canonical_id=_KeysLoader(lambda key: tether_at(key.window.at)),
    )
    assets = [(1, a), (2, b), (3, a), (4, b), (5, a), (6, b), (1, a)]
    found: list[Any] = await consensus_prices(ctx, assets, "usd")
    assert found[2] is failed and found[3] is None
    for got, (asset_id, instant) in zip(found, assets, strict=True):
        if asset_id in (3, 4):
            continue
        quotes = answers[asset_id]
        assert got == _fresh(quotes, instant, {"USDT": rate(instant)})
        assert got == await consensus_of(_ctx(**vars(ctx.loaders)), quotes, instant, "USD")
    # at b the coingecko quote is 65 s old: stale, out of the median
    assert found[1].source_count == 2 and found[0].source_count == 3
