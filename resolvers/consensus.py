"""Consensus price: the median of fresh per-source quotes, with a robust outlier rule.

Pure functions, no I/O: the price resolver and the live ``prices``
subscription both call :func:`agree` on per-source quotes already converted
to the requested quote currency (``resolvers.quotes``).

The method (also in ``docs/consensus.md``):

1. **Freshness.** A quote is *stale* when its age at the instant exceeds the
   source's threshold (``stale_after_seconds``, per-source overrides). Stale
   quotes are left out while at least one fresh quote exists. When every
   quote is stale, all of them are used and the result says ``stale: true``
   and ``method: LAST_KNOWN`` (the last good values, flagged, never hidden).
2. **Outliers** (only with three or more candidates; with two there is no
   majority to say which one is wrong). With ``m`` the median of the
   candidates and ``MAD`` the median of ``|x - m|``, the robust scale is
   ``s = max(1.4826 · MAD, min_deviation · |m|)`` and a quote is rejected
   when ``|x - m| > threshold · s`` (defaults: threshold 3.5, min_deviation
   0.1 %). 1.4826 makes the MAD a consistent estimator of the standard
   deviation for normal data, so the threshold reads as a robust z-score
   (Iglewicz & Hoaglin suggest 3.5). The floor stops a quote being rejected
   for a negligible difference when the others agree exactly (MAD = 0).
   Rejected quotes are named in ``outliers``.
3. **Value.** The median of the kept quotes (mean of the middle two for an
   even count). ``spread = (max - min) / median`` over the kept quotes;
   ``observedAt`` is the newest kept observation.

The value types are named tuples: immutable, and cheap to build (a dashboard
builds several per asset per request).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from storage.types import canonical_decimal

MAD_SCALE = Decimal("1.4826")
_PRECISION = 60  # enough for 40-digit values, their sums and ratios, exactly


class Method:
    """How the consensus value was formed (string constants shared with the schema enum)."""

    MEDIAN = "MEDIAN"
    SINGLE_SOURCE = "SINGLE_SOURCE"
    LAST_KNOWN = "LAST_KNOWN"


class Excluded:
    """Why a per-source quote did not enter the consensus."""

    STALE = "STALE"
    OUTLIER = "OUTLIER"
    NO_CONVERSION_RATE = "NO_CONVERSION_RATE"


class Conversion(NamedTuple):
    """An explicit currency conversion applied to a source's quote."""

    from_currency: str
    to_currency: str
    rate: Decimal
    rate_observed_at: datetime | None
    rate_stale: bool


class SourcePrice(NamedTuple):
    """One source's latest quote, expressed in the requested quote currency.

    ``price`` is ``None`` when the stored currency could not be converted.
    """

    source: str
    price: Decimal | None
    quote: str
    original_currency: str
    original_price: Decimal
    observed_at: datetime
    conversion: Conversion | None = None


class SourceVerdict(NamedTuple):
    entry: SourcePrice
    age_seconds: int
    stale: bool
    used: bool
    excluded: str | None


class Consensus(NamedTuple):
    value: Decimal
    quote: str
    observed_at: datetime
    age_seconds: int
    stale: bool
    source_count: int
    spread: Decimal | None
    method: str
    outliers: tuple[str, ...]
    sources: tuple[SourceVerdict, ...]


#: every computation runs at 60 significant digits: exact for stored values
#: (shared with the quote conversions of ``resolvers.quotes``)
DECIMAL_CONTEXT = decimal.Context(prec=_PRECISION)
_CTX = DECIMAL_CONTEXT


def median(values: Sequence[Decimal]) -> Decimal:
    """The median; the mean of the two middle values for an even count."""
    if not values:
        raise ValueError("median of nothing")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return _CTX.divide(_CTX.add(ordered[mid - 1], ordered[mid]), 2)


def outliers(
    values: Sequence[Decimal], *, threshold: Decimal, min_deviation: Decimal
) -> list[bool]:
    """Flags, per value, whether the MAD rule rejects it (see the module docstring)."""
    if len(values) < 3:
        return [False] * len(values)
    ctx = _CTX
    m = median(values)
    deviations = [ctx.abs(ctx.subtract(v, m)) for v in values]
    scale = max(
        ctx.multiply(MAD_SCALE, median(deviations)), ctx.multiply(min_deviation, ctx.abs(m))
    )
    if scale == 0:
        return [False] * len(values)
    limit = ctx.multiply(threshold, scale)
    return [d > limit for d in deviations]


def age_at(at: datetime, observed_at: datetime) -> int:
    """Whole seconds from ``observed_at`` to ``at`` (0 for an observation after ``at``).

    The one definition of an age: staleness is ``age_at(...) > threshold``.
    """
    age = int((at - observed_at).total_seconds())
    return age if age > 0 else 0


def stale_cutoff(at: datetime, stale_after: int) -> datetime | None:
    """The newest observation time that is stale at ``at`` under ``stale_after``:
    ``age_at(at, t) > stale_after`` exactly when ``t <= stale_cutoff(at, stale_after)``
    (None: every observation is stale, a negative threshold).

    Whole-second ages: an age exceeds ``s`` once ``s + 1`` full seconds have passed.
    One subtraction per (instant, source) instead of an age per quote.
    """
    if stale_after < 0:
        return None
    return at - timedelta(seconds=stale_after + 1)


def reaged(c: Consensus, at: datetime) -> Consensus:
    """``c`` read at another instant ``at`` with the same stale flags.

    :func:`agree` depends on its instant only through each entry's age and
    whether that age makes it stale; with the same entries and the same stale
    flags, only the ages differ. So a consensus computed at one instant is
    valid at another once its ages are recomputed — which is what this does
    (``resolvers.prices`` keeps computed consensuses across requests this way).
    Built positionally (``_replace`` costs a keyword round trip per tuple): every
    asset of a request at a new instant goes through here.
    """
    value, quote, observed_at, _, stale, count, spread, method, outliers, sources = c
    return Consensus(
        value,
        quote,
        observed_at,
        age_at(at, observed_at),
        stale,
        count,
        spread,
        method,
        outliers,
        tuple(
            [
                SourceVerdict(entry, age_at(at, entry.observed_at), is_stale, used, excluded)
                for entry, _, is_stale, used, excluded in sources
            ]
        ),
    )


def agree(
    entries: Sequence[SourcePrice],
    *,
    quote: str,
    at: datetime,
    stale_after: Callable[[str], int],
    threshold: Decimal,
    min_deviation: Decimal,
) -> Consensus | None:
    """The consensus of ``entries`` at instant ``at``; ``None`` if no entry has a price."""
    # One pass: each entry's age at the instant, whether it is stale, and which
    # entries are priced / fresh (by position).
    n = len(entries)
    ages = [0] * n
    stale = [False] * n
    priced: list[int] = []
    fresh: list[int] = []
    for i, e in enumerate(entries):
        ages[i] = age = age_at(at, e.observed_at)
        is_stale = stale[i] = age > stale_after(e.source)
        if e.price is not None:
            priced.append(i)
            if not is_stale:
                fresh.append(i)
    if not priced:
        return None
    candidates = fresh or priced
    prices: list[Decimal] = [entries[i].price for i in candidates]  # type: ignore[misc]
    flags = outliers(prices, threshold=threshold, min_deviation=min_deviation)
    if True in flags:
        rejected = {i for i, bad in zip(candidates, flags, strict=True) if bad}
        kept = [i for i in candidates if i not in rejected]
        kept_prices = [p for p, bad in zip(prices, flags, strict=True) if not bad]
    else:
        rejected, kept, kept_prices = set(), candidates, prices
    value = median(kept_prices)
    spread = (
        _CTX.divide(_CTX.subtract(max(kept_prices), min(kept_prices)), value) if value else None
    )
    if not fresh:
        method = Method.LAST_KNOWN
    elif len(kept) == 1:
        method = Method.SINGLE_SOURCE
    else:
        method = Method.MEDIAN
    observed_at = max([entries[i].observed_at for i in kept])
    used = set(kept)
    verdicts = []
    order = [(e.source, e.original_currency) for e in entries]
    for i in sorted(range(n), key=order.__getitem__):
        e = entries[i]
        if e.price is None:
            reason: str | None = Excluded.NO_CONVERSION_RATE
        elif i in rejected:
            reason = Excluded.OUTLIER
        elif i not in used:
            reason = Excluded.STALE
        else:
            reason = None
        verdicts.append(
            SourceVerdict(
                entry=e, age_seconds=ages[i], stale=stale[i], used=i in used, excluded=reason
            )
        )
    return Consensus(
        value=canonical_decimal(value),
        quote=quote,
        observed_at=observed_at,
        age_seconds=age_at(at, observed_at),
        stale=not fresh,
        source_count=len(kept),
        spread=None if spread is None else canonical_decimal(round(spread, 12)),
        method=method,
        outliers=tuple(sorted([entries[i].source for i in rejected])),
        sources=tuple(verdicts),
    )
