"""Price and market resolvers: consensus across sources, at an instant."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any

from loaders.quotes import CanonicalQuoteKey, QuoteKey, QuoteWindow
from resolvers.config import GraphConfig
from resolvers.consensus import Consensus, SourcePrice, agree, reaged, stale_cutoff
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.instant import Instant, per_instant
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


async def latest_quotes_many(
    ctx: Context, assets: Sequence[tuple[int, Instant]]
) -> list[list[QuoteRecord] | Exception]:
    """:func:`latest_quotes` for many (asset id, instant) pairs: one load for all."""
    window = per_instant(lambda instant: quote_window(ctx, instant))
    return await ctx.loaders.quotes_by_asset.load_all(
        [QuoteKey(asset_id, window(instant)) for asset_id, instant in assets]
    )


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
    found = await _Reader(ctx, USD, convert=False).read(quotes, instant)
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
    return await consensus_of(ctx, quotes, instant, quote)


async def consensus_prices(
    ctx: Context, assets: Sequence[tuple[int, Instant]], quote: str
) -> list[Consensus | Exception | None]:
    """:func:`consensus_price` for many (asset id, instant) pairs: one load for all."""
    quote = normalise_quote(quote)
    found = await latest_quotes_many(ctx, assets)
    reader = _Reader(ctx, quote)
    out: list[Consensus | Exception | None] = []
    for (_asset_id, instant), quotes in zip(assets, found, strict=True):
        if isinstance(quotes, Exception):
            out.append(quotes)
        else:
            out.append(await reader.read(quotes, instant))
    return out


async def consensus_of(
    ctx: Context, quotes: Sequence[QuoteRecord], instant: Instant, quote: str
) -> Consensus | None:
    """The consensus of an asset's latest ``quotes`` in ``quote`` (already normalised)."""
    return await _Reader(ctx, quote).read(quotes, instant)


_NOT_YET = object()


class _Reader:
    """Consensuses in one quote currency for one request's resolver call: the memos,
    cutoffs and USD rates looked up once for all the assets it reads."""

    __slots__ = ("cfg", "ctx", "currency_assets", "cutoffs", "memo", "quote", "rates", "tag")

    def __init__(self, ctx: Context, quote: str, *, convert: bool = True) -> None:
        """``convert=False``: only quotes already in ``quote`` count (a USD rate's own)."""
        self.ctx = ctx
        self.cfg = ctx.graph
        self.memo, self.cutoffs = _memo_for(self.cfg)
        self.quote = quote
        self.currency_assets = self.cfg.quote_currency_assets if convert else {}
        #: the memo keys' first member: the quote currency, and whether others convert
        self.tag = (quote, convert)
        #: (currency, id(instant)) -> (instant, rate): the instant is kept, so its id holds
        self.rates: dict[tuple[str, int], tuple[Instant, UsdRate | None]] = {}

    async def read(self, quotes: Sequence[QuoteRecord], instant: Instant) -> Consensus | None:
        """The consensus of an asset's latest ``quotes`` at ``instant``."""
        if not quotes:
            return None
        cfg = self.cfg
        quote = self.quote
        memo = self.memo
        at = instant.at
        # What a consensus reads of each quote (market figures are not part of it).
        key = (
            self.tag,
            tuple([(q.source, q.quote_currency, q.price, q.observed_at) for q in quotes]),
        )
        prepared = memo.get(key)
        if prepared is None:
            currencies = tuple(sorted(rate_currencies(quotes, quote, self.currency_assets)))
            prepared = _Prepared(currencies)
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            memo[key] = prepared
        rates: tuple[UsdRate | None, ...] = ()
        for c in prepared.currencies:
            hit = self.rates.get((c, id(instant)))
            if hit is None:
                hit = self.rates[(c, id(instant))] = (
                    instant,
                    await shared_usd_rate(self.ctx, c, instant),
                )
            rates += (hit[1],)
        # Stale flags: each quote against its source's cutoff at this instant.
        cutoffs = self.cutoffs
        stale: list[bool] = []
        for q in quotes:
            cutoff = cutoffs.get((at, q.source), _NOT_YET)
            if cutoff is _NOT_YET:
                if len(cutoffs) >= _CUTOFFS_MAX:
                    cutoffs.clear()
                cutoff = cutoffs[(at, q.source)] = stale_cutoff(at, cfg.stale_after(q.source))
            stale.append(cutoff is None or q.observed_at <= cutoff)  # type: ignore[operator]
        flags = tuple(stale)
        found = prepared.agreed.get((rates, flags))
        if found is not None:
            computed_at, consensus = found
            if computed_at == at or consensus is None:
                return consensus
            return reaged(consensus, at)
        entries = source_prices(
            quotes,
            quote,
            dict(zip(prepared.currencies, rates, strict=True)),
            self.currency_assets,
        )
        consensus = _agree(self.ctx, entries, quote, instant)
        if len(prepared.agreed) >= _AGREED_MAX:
            prepared.agreed.clear()
        prepared.agreed[(rates, flags)] = (at, consensus)
        return consensus


class _Prepared:
    """What one asset's quote set (in one quote currency) needs, kept across requests:
    the currencies whose USD rate converts it, and its consensus per (rates, stale flags).

    A consensus is a pure function of the quotes, the rates, the graph settings and
    the instant — and of the instant only through ages and stale flags
    (``resolvers.consensus.reaged``). Dashboards poll the same quotes many times a
    second; computing the exact-decimal median, the MAD rule and the conversions
    once per distinct input, instead of once per asset per request, is most of a
    price's cost. Keys are the values a consensus reads of each quote record (source,
    currency, price, observation time), so a re-read of unchanged rows hits and any
    new quote (ingest) misses.
    """

    __slots__ = ("agreed", "currencies")

    def __init__(self, currencies: tuple[str, ...]) -> None:
        self.currencies = currencies
        self.agreed: dict[
            tuple[tuple[UsdRate | None, ...], tuple[bool, ...]],
            tuple[datetime, Consensus | None],
        ] = {}


_MEMO_MAX = 16384  # quote sets kept (an asset has one per quote currency per data version)
_AGREED_MAX = 8  # consensuses kept per quote set (rates and stale flags change rarely)
_CUTOFFS_MAX = 1024  # (instant, source) stale cutoffs kept
_Cutoffs = dict[tuple[datetime, str], datetime | None]
_MEMOS: dict[int, tuple[GraphConfig, dict[Any, _Prepared], _Cutoffs]] = {}


def _memo_for(cfg: GraphConfig) -> tuple[dict[Any, _Prepared], _Cutoffs]:
    """The memos of one graph configuration (thresholds and conversions are part of
    them): prepared quote sets, and stale cutoffs per (instant, source)."""
    hit = _MEMOS.get(id(cfg))
    if hit is not None and hit[0] is cfg:
        return hit[1], hit[2]
    if len(_MEMOS) > 16:  # test suites build many configurations
        _MEMOS.clear()
    memo: dict[Any, _Prepared] = {}
    cutoffs: _Cutoffs = {}
    _MEMOS[id(cfg)] = (cfg, memo, cutoffs)
    return memo, cutoffs


async def market(ctx: Context, asset_id: int, instant: Instant, quote: str) -> QuoteRecord | None:
    """Market figures (cap, volume, changes, supply) from the freshest quote carrying them."""
    quote = normalise_quote(quote)
    return market_quote(await latest_quotes(ctx, asset_id, instant), quote)


async def markets(
    ctx: Context, assets: Sequence[tuple[int, Instant]], quote: str
) -> list[QuoteRecord | Exception | None]:
    """:func:`market` for many (asset id, instant) pairs: one load for all."""
    quote = normalise_quote(quote)
    found = await latest_quotes_many(ctx, assets)
    return [q if isinstance(q, Exception) else market_quote(q, quote) for q in found]
