"""Per-source quotes in the requested currency, with explicit conversions.

Quotes are stored per quote currency as the source reported them: Binance's
``BTCUSDT`` is a USDT price, not a USD one. To express a source's quote in
the requested currency ``Q`` this module:

* uses the source's own ``Q`` quote when it has one;
* otherwise converts a quote in another currency ``C`` at the rate
  ``usd(C) / usd(Q)``, where ``usd(USD) = 1`` and ``usd(X)`` for a token
  currency is the consensus USD price of the asset listed for ``X`` in
  ``quote_currency_assets`` (USDT → tether). USD is preferred as the source
  currency, then the others alphabetically;
* rounds the rate and the converted price half-even to 18 decimal places
  (the storage scale), so a rate like 1 / 0.9985 stays readable;
* never assumes a peg: without a rate the entry is listed with no price and
  excluded (``NO_CONVERSION_RATE``). Currencies with no known conversion at
  all (EUR, BTC …) are not listed under a ``Q`` price.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from resolvers.consensus import DECIMAL_CONTEXT, Conversion, SourcePrice
from storage.records import QuoteRecord
from storage.types import canonical_decimal

USD = "USD"
#: Rates and converted prices are rounded half-even to the storage scale (18 places).
SCALE = Decimal("1e-18")


class UsdRate(NamedTuple):
    """The USD value of one unit of a quote currency, and how fresh it is.

    A named tuple: rates are part of the consensus memo's keys, hashed and compared
    per asset per request (in C, not through a dataclass's Python methods)."""

    rate: Decimal
    observed_at: datetime | None
    stale: bool


ONE_USD = UsdRate(rate=Decimal(1), observed_at=None, stale=False)


def convertible(currency: str, currency_assets: Mapping[str, str]) -> bool:
    return currency == USD or currency in currency_assets


def rate_currencies(
    quotes: Sequence[QuoteRecord], quote: str, currency_assets: Mapping[str, str]
) -> set[str]:
    """Token currencies whose USD rate is needed to express ``quotes`` in ``quote``."""
    by_source: dict[str, set[str]] = defaultdict(set)
    for q in quotes:
        by_source[q.source].add(q.quote_currency)
    needed: set[str] = set()
    for currencies in by_source.values():
        if quote in currencies:
            continue
        usable = [c for c in currencies if convertible(c, currency_assets)]
        if usable:
            needed.update(c for c in usable if c != USD)
            if quote != USD:
                needed.add(quote)
    return {c for c in needed if c in currency_assets}


#: rates and converted prices: the consensus's 60-digit context (exact for stored values)
_CTX = DECIMAL_CONTEXT
#: Conversion by (from, to, from-rate, to-rate): a pure function of its key, so a
#: dashboard converting many assets' USDT quotes builds the same conversion once.
_CONVERSIONS: dict[tuple[str, str, UsdRate, UsdRate], Conversion] = {}
_CONVERSIONS_MAX = 1024


def _rate(source_currency: str, quote: str, usd: Mapping[str, UsdRate | None]) -> Conversion | None:
    src = ONE_USD if source_currency == USD else usd.get(source_currency)
    dst = ONE_USD if quote == USD else usd.get(quote)
    if src is None or dst is None or dst.rate == 0:
        return None
    key = (source_currency, quote, src, dst)
    found = _CONVERSIONS.get(key)
    if found is not None:
        return found
    times = [t for t in (src.observed_at, dst.observed_at) if t is not None]
    rate = _CTX.divide(src.rate, dst.rate).quantize(SCALE, context=_CTX)
    found = Conversion(
        from_currency=source_currency,
        to_currency=quote,
        rate=canonical_decimal(rate),
        rate_observed_at=min(times) if times else None,
        rate_stale=src.stale or dst.stale,
    )
    if len(_CONVERSIONS) >= _CONVERSIONS_MAX:
        _CONVERSIONS.clear()
    _CONVERSIONS[key] = found
    return found


def _usd_first(currency: str) -> tuple[bool, str]:
    return (currency != USD, currency)


def source_prices(
    quotes: Sequence[QuoteRecord],
    quote: str,
    usd: Mapping[str, UsdRate | None],
    currency_assets: Mapping[str, str],
) -> list[SourcePrice]:
    """One entry per source, in ``quote`` (see the module docstring for the rules)."""
    by_source: dict[str, dict[str, QuoteRecord]] = {}
    for q in quotes:
        currencies = by_source.get(q.source)
        if currencies is None:
            currencies = by_source[q.source] = {}
        currencies[q.quote_currency] = q
    out: list[SourcePrice] = []
    for source in sorted(by_source):
        by_currency = by_source[source]
        direct = by_currency.get(quote)
        if direct is not None:
            out.append(
                SourcePrice(
                    source=source,
                    price=direct.price,
                    quote=quote,
                    original_currency=quote,
                    original_price=direct.price,
                    observed_at=direct.observed_at,
                )
            )
            continue
        usable = sorted((c for c in by_currency if convertible(c, currency_assets)), key=_usd_first)
        if not usable:
            continue
        # The first usable currency with a known rate; else the first one, unpriced.
        chosen, conversion = usable[0], None
        for currency in usable:
            conversion = _rate(currency, quote, usd)
            if conversion is not None:
                chosen = currency
                break
        rec = by_currency[chosen]
        price = None
        if conversion is not None:
            price = canonical_decimal(
                _CTX.multiply(rec.price, conversion.rate).quantize(SCALE, context=_CTX)
            )
        out.append(
            SourcePrice(
                source=source,
                price=price,
                quote=quote,
                original_currency=chosen,
                original_price=rec.price,
                observed_at=rec.observed_at,
                conversion=conversion,
            )
        )
    return out


def market_quote(quotes: Sequence[QuoteRecord], quote: str) -> QuoteRecord | None:
    """The quote whose market figures to show: the freshest in ``quote`` with a market cap,
    else the freshest in ``quote`` with any market figure. Figures are never converted."""
    in_quote = [q for q in quotes if q.quote_currency == quote]

    def freshest(cands: list[QuoteRecord]) -> QuoteRecord | None:
        return max(cands, key=lambda q: (q.observed_at, q.source), default=None)

    with_cap = freshest([q for q in in_quote if q.market_cap is not None])
    if with_cap is not None:
        return with_cap
    return freshest(
        [
            q
            for q in in_quote
            if any(
                v is not None
                for v in (
                    q.volume_24h,
                    q.change_1h,
                    q.change_24h,
                    q.change_7d,
                    q.circulating_supply,
                )
            )
        ]
    )
