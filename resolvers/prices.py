"""Price and market resolvers: consensus across sources, at an instant."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from loaders.quotes import CanonicalQuoteKey, QuoteKey, QuoteWindow
from resolvers.config import GraphConfig
from resolvers.consensus import Consensus, SourcePrice, agree, reaged, stale_cutoff
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.instant import Instant, per_instant
from resolvers.quotes import USD, UsdRate, market_quote, rate_currencies, source_prices
from storage.records import QuoteRecord

_E = TypeVar("_E", bound=Exception)

#: ``tuple.__new__``: builds a named-tuple key from its fields without the type's
#: Python-level ``__new__`` (a list of a thousand assets builds a thousand keys)
_tuple_new = tuple.__new__

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
    keys: list[QuoteKey] = []
    last: Instant | None = None
    for asset_id, instant in assets:
        if instant is not last:  # a list's assets share one instant: no call per asset
            last = instant
            current = window(instant)
        # QuoteKey(asset_id, current), built in C: a named tuple's __new__ runs Python
        keys.append(_tuple_new(QuoteKey, (asset_id, current)))
    return await ctx.loaders.quotes_by_asset.load_all(keys)


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
    return await _Reader(ctx, quote).read_all(assets, found)


async def consensus_of(
    ctx: Context, quotes: Sequence[QuoteRecord], instant: Instant, quote: str
) -> Consensus | None:
    """The consensus of an asset's latest ``quotes`` in ``quote`` (already normalised)."""
    return await _Reader(ctx, quote).read(quotes, instant)


class _Reader:
    """Consensuses in one quote currency for one request's resolver call: the memo
    and the USD rates looked up once for all the assets it reads."""

    __slots__ = ("ctx", "currency_assets", "instants", "memo", "quote", "tag")

    def __init__(self, ctx: Context, quote: str, *, convert: bool = True) -> None:
        """``convert=False``: only quotes already in ``quote`` count (a USD rate's own)."""
        self.ctx = ctx
        self.memo = _memo_for(ctx.graph)
        self.quote = quote
        self.currency_assets = ctx.graph.quote_currency_assets if convert else {}
        #: the memo keys' first member: the quote currency, and whether others convert
        self.tag = (quote, convert)
        #: id(instant) -> what this reader knows at that instant (which keeps the
        #: instant, so its id holds)
        self.instants: dict[int, _AtInstant] = {}

    async def read(self, quotes: Sequence[QuoteRecord], instant: Instant) -> Consensus | None:
        """The consensus of an asset's latest ``quotes`` at ``instant``."""
        return (await self.read_all(((None, instant),), (quotes,)))[0]

    async def read_all(
        self,
        assets: Sequence[tuple[object, Instant]],
        found: Sequence[Sequence[QuoteRecord] | _E],
    ) -> list[Consensus | _E | None]:
        """:meth:`read` for each asset's latest quotes at its instant (a failed load,
        an exception in ``found``, is passed through in its place)."""
        out: list[Consensus | _E | None] = []
        memo = self.memo
        tag = self.tag
        current: Instant | None = None
        for (_, instant), quotes in zip(assets, found, strict=True):
            if isinstance(quotes, Exception):
                out.append(quotes)
                continue
            if not quotes:
                out.append(None)
                continue
            if instant is not current:  # a list's assets share one instant
                current = instant
                known = self._at(instant)
                at = known.at
                rates_of = known.rates
            # What a consensus reads of each quote (market figures are not part of it).
            key = (
                tag,
                tuple([(q.source, q.quote_currency, q.price, q.observed_at) for q in quotes]),
            )
            prepared = memo.get(key)
            if prepared is None:
                prepared = self._prepare(key, quotes)
            rates = rates_of.get(prepared.currencies)
            if rates is None:
                rates = await self._rates(known, prepared.currencies)
            # Stale flags: the set's last ones hold at every instant in [since, until).
            since, until, flags = prepared.stale
            if not since <= at < until:
                flags = prepared.stale_flags(at, self.ctx.graph.stale_after)
            hit = prepared.agreed.get((rates, flags))
            if hit is None:
                out.append(self._compute(prepared, quotes, known, rates, flags))
                continue
            computed_at, consensus = hit
            if computed_at == at or consensus is None:
                out.append(consensus)
            else:
                out.append(reaged(consensus, at))
        return out

    def _prepare(self, key: tuple[Any, ...], quotes: Sequence[QuoteRecord]) -> _Prepared:
        """A new quote set's entry in the memo."""
        currencies = tuple(sorted(rate_currencies(quotes, self.quote, self.currency_assets)))
        prepared = _Prepared(currencies, quotes)
        memo = self.memo
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        memo[key] = prepared
        return prepared

    def _compute(
        self,
        prepared: _Prepared,
        quotes: Sequence[QuoteRecord],
        known: _AtInstant,
        rates: tuple[UsdRate | None, ...],
        flags: tuple[bool, ...],
    ) -> Consensus | None:
        """The consensus of ``quotes`` at ``known``'s instant, computed and kept."""
        entries = source_prices(
            quotes,
            self.quote,
            dict(zip(prepared.currencies, rates, strict=True)),
            self.currency_assets,
        )
        consensus = _agree(self.ctx, entries, self.quote, known.instant)
        if len(prepared.agreed) >= _AGREED_MAX:
            prepared.agreed.clear()
        prepared.agreed[(rates, flags)] = (known.at, consensus)
        return consensus

    def _at(self, instant: Instant) -> _AtInstant:
        """What this reader knows at ``instant``."""
        known = self.instants.get(id(instant))
        if known is None:
            known = self.instants[id(instant)] = _AtInstant(instant)
        return known

    async def _rates(
        self, known: _AtInstant, currencies: tuple[str, ...]
    ) -> tuple[UsdRate | None, ...]:
        """The USD rates of ``currencies`` at ``known``'s instant, in order."""
        rates = tuple([await shared_usd_rate(self.ctx, c, known.instant) for c in currencies])
        known.rates[currencies] = rates
        return rates


class _AtInstant:
    """What one reader knows at one instant: the USD rates per currency tuple. Lives
    as long as its reader (one resolver call), never across requests."""

    __slots__ = ("at", "instant", "rates")

    def __init__(self, instant: Instant) -> None:
        self.instant = instant
        self.at = instant.at
        self.rates: dict[tuple[str, ...], tuple[UsdRate | None, ...]] = {}


#: bounds of "every instant" for the stale flags' interval of validity
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


class _Prepared:
    """What one asset's quote set (in one quote currency) needs, kept across requests:
    the currencies whose USD rate converts it, its stale flags with the instants they
    hold for, and its consensus per (rates, stale flags).

    A consensus is a pure function of the quotes, the rates, the graph settings and
    the instant — and of the instant only through ages and stale flags
    (``resolvers.consensus.reaged``). Dashboards poll the same quotes many times a
    second; computing the exact-decimal median, the MAD rule and the conversions
    once per distinct input, instead of once per asset per request, is most of a
    price's cost. Keys are the values a consensus reads of each quote record (source,
    currency, price, observation time), so a re-read of unchanged rows hits and any
    new quote (ingest) misses.

    A quote's stale flag is a step in the instant: False until its observation time
    plus its source's threshold plus one second, True from then on (``stale_cutoff``).
    So the flags computed at one instant hold, unchanged, from the latest step at or
    before it to the first step after it: ``stale`` keeps them with that interval, and
    a read at any instant inside it (the next request's, a second later) needs no
    per-quote work. A read outside it computes them again.
    """

    __slots__ = ("agreed", "currencies", "observed", "sources", "stale")

    def __init__(self, currencies: tuple[str, ...], quotes: Sequence[QuoteRecord]) -> None:
        self.currencies = currencies
        #: each quote's source and observation time, in order (equal for every
        #: quote list with this set's key)
        self.sources = tuple([q.source for q in quotes])
        self.observed = tuple([q.observed_at for q in quotes])
        #: (since, until, flags): the stale flags at every instant in [since, until)
        #: (none yet: an empty interval)
        self.stale: tuple[datetime, datetime, tuple[bool, ...]] = (_LATEST, _EARLIEST, ())
        self.agreed: dict[
            tuple[tuple[UsdRate | None, ...], tuple[bool, ...]],
            tuple[datetime, Consensus | None],
        ] = {}

    def stale_flags(self, at: datetime, stale_after: Callable[[str], int]) -> tuple[bool, ...]:
        """Each quote's stale flag at ``at`` (``stale_cutoff``'s rule), kept with the
        interval of instants it holds for."""
        since, until = _EARLIEST, _LATEST
        flags: list[bool] = []
        for source, observed in zip(self.sources, self.observed, strict=True):
            after = stale_after(source)
            cutoff = stale_cutoff(at, after)
            if cutoff is None:  # a negative threshold: stale at every instant
                flags.append(True)
                continue
            stale = observed <= cutoff
            flags.append(stale)
            # The step: observed <= at - (after + 1) s exactly when at >= turns.
            if stale:
                since = max(since, observed + timedelta(seconds=after + 1))
            else:  # (no step before the last datetime: fresh at every later instant)
                with suppress(OverflowError):
                    until = min(until, observed + timedelta(seconds=after + 1))
        found = tuple(flags)
        self.stale = (since, until, found)
        return found


_MEMO_MAX = 16384  # quote sets kept (an asset has one per quote currency per data version)
_AGREED_MAX = 8  # consensuses kept per quote set (rates and stale flags change rarely)
_MEMOS: dict[int, tuple[GraphConfig, dict[Any, _Prepared]]] = {}


def _memo_for(cfg: GraphConfig) -> dict[Any, _Prepared]:
    """The prepared quote sets of one graph configuration (thresholds and conversions
    are part of them)."""
    hit = _MEMOS.get(id(cfg))
    if hit is not None and hit[0] is cfg:
        return hit[1]
    if len(_MEMOS) > 16:  # test suites build many configurations
        _MEMOS.clear()
    memo: dict[Any, _Prepared] = {}
    _MEMOS[id(cfg)] = (cfg, memo)
    return memo


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
