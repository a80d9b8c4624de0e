"""Price and market resolvers: consensus across sources, at an instant."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Sequence

from loaders.quotes import CanonicalQuoteKey, QuoteKey, QuoteWindow
from resolvers.consensus import Consensus, SourcePrice, agree
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.instant import Instant
from resolvers.quotes import USD, UsdRate, market_quote, rate_currencies, source_prices
from storage.records import QuoteRecord

_QUOTE = re.compile(r"^[A-Z0-9]{2,12}$")


def normalise_quote(quote: str) -> str:
    q = quote.strip().upper()
    if not _QUOTE.match(q):
        raise BadUserInput(
            f"quote {quote!r} is not a currency code (2-12 letters/digits, e.g. USD, USDT)",
            extensions={"argument": "quote"},
        )
    return q


def quote_window(ctx: Context, instant: Instant) -> QuoteWindow:
    """The look-back window at ``instant``, built once per request and instant."""
    key = ("quote_window", instant)
    window: QuoteWindow | None = ctx.extra.get(key)
    if window is None:
        window = QuoteWindow(at=instant.at, since=instant.minus(ctx.graph.quote_max_age_seconds))
        ctx.extra[key] = window
    return window


async def latest_quotes(ctx: Context, asset_id: int, instant: Instant) -> list[QuoteRecord]:
    return await ctx.loaders.quotes_by_asset.load(QuoteKey(asset_id, quote_window(ctx, instant)))


def _agree(
    ctx: Context, entries: Sequence[SourcePrice], quote: str, instant: Instant
) -> Consensus | None:
    cfg = ctx.graph
    return agree(
        entries,
        quote=quote,
        at=instant.at,
        stale_after=cfg.stale_after,
        threshold=cfg.consensus_mad_threshold,
        min_deviation=cfg.consensus_min_deviation,
    )


async def usd_rate(ctx: Context, currency: str, instant: Instant) -> UsdRate | None:
    """USD per unit of a token quote currency: the consensus USD price of its asset."""
    canonical_id = ctx.graph.quote_currency_assets.get(currency)
    if canonical_id is None:
        return None
    key = CanonicalQuoteKey(canonical_id, USD, quote_window(ctx, instant))
    quotes = await ctx.loaders.quotes_by_canonical_id.load(key)
    # Direct USD quotes only: a rate must never be derived from itself.
    entries = source_prices(quotes, USD, {}, {})
    found = _agree(ctx, entries, USD, instant)
    if found is None:
        return None
    return UsdRate(rate=found.value, observed_at=found.observed_at, stale=found.stale)


def shared_usd_rate(ctx: Context, currency: str, instant: Instant) -> Awaitable[UsdRate | None]:
    """One USD-rate computation per (currency, instant) per request, shared by every asset.

    A dashboard converts the USDT quotes of each of its assets at tether's consensus
    USD price: computing that once instead of once per asset.
    """
    key = ("usd_rate", currency, instant)
    shared: Awaitable[UsdRate | None] | None = ctx.extra.get(key)
    if shared is None:
        shared = ctx.extra[key] = asyncio.ensure_future(usd_rate(ctx, currency, instant))
    return shared


async def consensus_price(
    ctx: Context, asset_id: int, instant: Instant, quote: str
) -> Consensus | None:
    """The consensus price of an asset in ``quote`` (see ``resolvers.consensus``)."""
    quote = normalise_quote(quote)
    quotes = await latest_quotes(ctx, asset_id, instant)
    if not quotes:
        return None
    assets = ctx.graph.quote_currency_assets
    rates = {
        c: await shared_usd_rate(ctx, c, instant) for c in rate_currencies(quotes, quote, assets)
    }
    entries = source_prices(quotes, quote, rates, assets)
    return _agree(ctx, entries, quote, instant)


async def market(ctx: Context, asset_id: int, instant: Instant, quote: str) -> QuoteRecord | None:
    """Market figures (cap, volume, changes, supply) from the freshest quote carrying them."""
    quote = normalise_quote(quote)
    return market_quote(await latest_quotes(ctx, asset_id, instant), quote)
