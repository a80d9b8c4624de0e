"""Pure-function tests of per-source quote selection and explicit currency conversion."""

from datetime import UTC, datetime
from decimal import Decimal

from resolvers.config import DEFAULT_QUOTE_CURRENCY_ASSETS as ASSETS
from resolvers.quotes import UsdRate, market_quote, rate_currencies, source_prices
from storage.records import QuoteRecord

T = datetime(2024, 1, 1, tzinfo=UTC)


def q(source, currency, price, *, cap=None, vol=None, t=T):
    return QuoteRecord(
        source, 1, currency, Decimal(price), vol, cap, None, None, None, None, None, None, t
    )


def test_direct_quote_wins_then_usd_then_other_tokens():
    quotes = [
        q("a", "USD", "100"),
        q("a", "USDT", "101"),
        q("b", "USDC", "99"),
        q("b", "USDT", "98"),
        q("c", "BTC", "0.001"),  # no conversion path: not listed under a USD price
    ]
    assert rate_currencies(quotes, "USD", ASSETS) == {"USDC", "USDT"}
    usd = {
        "USDT": UsdRate(Decimal("0.999"), T, False),
        "USDC": UsdRate(Decimal("1.001"), T, True),
    }
    a, b = source_prices(quotes, "USD", usd, ASSETS)
    assert (a.source, a.price, a.conversion) == ("a", Decimal("100"), None)
    assert b.original_currency == "USDC"  # alphabetical among token currencies
    assert b.conversion.rate == Decimal("1.001") and b.conversion.rate_stale
    assert b.price == Decimal("99.099")


def test_missing_rate_is_explicit_and_never_a_peg():
    (entry,) = source_prices([q("a", "USDT", "101")], "USD", {"USDT": None}, ASSETS)
    assert entry.price is None and entry.conversion is None
    assert entry.original_price == Decimal("101")


def test_token_quote_from_usd_uses_the_inverse_rate():
    usd = {"USDT": UsdRate(Decimal("0.998"), T, False)}
    assert rate_currencies([q("a", "USD", "100")], "USDT", ASSETS) == {"USDT"}
    (entry,) = source_prices([q("a", "USD", "100")], "USDT", usd, ASSETS)
    assert entry.conversion.rate == Decimal("1.002004008016032064")
    assert entry.price == Decimal("100.2004008016032064")


def test_market_quote_prefers_freshest_with_market_cap_and_never_converts():
    later = datetime(2024, 1, 2, tzinfo=UTC)
    quotes = [q("a", "USD", "1", cap=Decimal(5)), q("b", "USD", "1", vol=Decimal(2), t=later)]
    assert market_quote(quotes, "USD").source == "a"
    assert market_quote(quotes[1:], "USD").source == "b"
    assert market_quote(quotes, "USDT") is None
