"""Price types: the consensus ``Price``, its per-source quotes, and ``Market`` figures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from cost.directives import list_size
from resolvers.consensus import Consensus, Conversion, SourceVerdict
from resolvers.instant import Instant
from schema.compiled.batch import reads
from schema.view import constructor
from storage.records import QuoteRecord


@strawberry.enum(description="How a consensus price was formed.")
class ConsensusMethod(Enum):
    MEDIAN = strawberry.enum_value(
        "MEDIAN", description="Median of two or more fresh quotes after outlier rejection."
    )
    SINGLE_SOURCE = strawberry.enum_value(
        "SINGLE_SOURCE", description="Only one fresh quote was available (no cross-check)."
    )
    LAST_KNOWN = strawberry.enum_value(
        "LAST_KNOWN",
        description="Every quote was stale: the median of the last good values (`stale: true`).",
    )


#: consensus method name -> enum member (calling the enum class costs a Python-level lookup)
_METHODS: dict[str, ConsensusMethod] = {str(m.value): m for m in ConsensusMethod}


def _method(name: str) -> ConsensusMethod:
    return _METHODS.get(name) or ConsensusMethod(name)


@strawberry.enum(description="Why a per-source quote did not enter the consensus.")
class PriceExclusion(Enum):
    STALE = strawberry.enum_value(
        "STALE", description="Older than the source's staleness threshold while fresh quotes exist."
    )
    OUTLIER = strawberry.enum_value(
        "OUTLIER", description="Rejected by the median-absolute-deviation rule."
    )
    NO_CONVERSION_RATE = strawberry.enum_value(
        "NO_CONVERSION_RATE",
        description="Quoted in another currency and no conversion rate was known.",
    )


@strawberry.type(
    description=(
        "An explicit currency conversion: the source quoted another currency (USDT is not "
        "USD). rate = USD price of `fromQuote` ÷ USD price of `toQuote`, each the consensus "
        "USD price of the currency's asset (USDT → tether)."
    )
)
class QuoteConversion:
    from_quote: str = strawberry.field(description="Currency the source quoted, e.g. USDT.")
    to_quote: str = strawberry.field(description="Currency it was converted to, e.g. USD.")
    rate: Decimal = strawberry.field(description="Units of `toQuote` per unit of `fromQuote`.")
    rate_observed_at: datetime | None = strawberry.field(
        description="When the oldest price behind the rate was observed (null for USD itself)."
    )
    rate_stale: bool = strawberry.field(
        description="True when the rate itself came from stale quotes."
    )

    @classmethod
    def of(cls, c: Conversion) -> QuoteConversion:
        return cls(
            from_quote=c.from_currency,
            to_quote=c.to_currency,
            rate=c.rate,
            rate_observed_at=c.rate_observed_at,
            rate_stale=c.rate_stale,
        )


@strawberry.type(description="One source's latest quote behind a consensus price.")
class PriceSource:
    source: str = strawberry.field(description="The upstream source, e.g. coingecko, binance.")
    price: Decimal | None = strawberry.field(
        description="The quote in the requested currency (null when it could not be converted)."
    )
    quote: str = strawberry.field(description="The requested quote currency.")
    original_quote: str = strawberry.field(description="The currency the source quoted in.")
    original_price: Decimal = strawberry.field(description="The price as the source reported it.")
    conversion: QuoteConversion | None = strawberry.field(
        description="The conversion applied, when `originalQuote` differs from `quote`."
    )
    observed_at: datetime = strawberry.field(description="When the source observed this price.")
    age_seconds: int = strawberry.field(description="Age of the observation at the instant read.")
    stale: bool = strawberry.field(
        description="Older than the source's staleness threshold at the instant read."
    )
    used: bool = strawberry.field(description="Whether this quote entered the consensus value.")
    excluded_reason: PriceExclusion | None = strawberry.field(
        description="Why it was left out (null when used)."
    )

    @classmethod
    def of(cls, v: SourceVerdict) -> PriceSource:
        e = v.entry
        return cls(
            source=e.source,
            price=e.price,
            quote=e.quote,
            original_quote=e.original_currency,
            original_price=e.original_price,
            conversion=QuoteConversion.of(e.conversion) if e.conversion else None,
            observed_at=e.observed_at,
            age_seconds=v.age_seconds,
            stale=v.stale,
            used=v.used,
            excluded_reason=PriceExclusion(v.excluded) if v.excluded else None,
        )


@strawberry.type(
    description=(
        "A consensus price across sources: the median of the fresh per-source quotes after "
        "outlier rejection (method in docs/consensus.md)."
    )
)
class Price:
    """A view over one :class:`~resolvers.consensus.Consensus`: fields read it when
    selected (a dashboard selects a few of them for every asset)."""

    consensus: strawberry.Private[Consensus]

    @strawberry.field(description="The consensus price (exact decimal string).")
    @reads("consensus.value")
    def value(self) -> Decimal:
        return self.consensus.value

    @strawberry.field(description="Quote currency of `value`, e.g. USD.")
    @reads("consensus.quote")
    def quote(self) -> str:
        return self.consensus.quote

    @strawberry.field(description="Newest observation among the quotes used.")
    @reads("consensus.observed_at")
    def observed_at(self) -> datetime:
        return self.consensus.observed_at

    @strawberry.field(description="Seconds from `observedAt` to the instant read.")
    @reads("consensus.age_seconds")
    def age_seconds(self) -> int:
        return self.consensus.age_seconds

    @strawberry.field(
        description="True when no fresh quote existed and the last good values were used."
    )
    @reads("consensus.stale")
    def stale(self) -> bool:
        return self.consensus.stale

    @strawberry.field(description="How many sources entered the value.")
    @reads("consensus.source_count")
    def source_count(self) -> int:
        return self.consensus.source_count

    @strawberry.field(
        description="(max − min) ÷ value over the quotes used: how far the sources disagree."
    )
    @reads("consensus.spread")
    def spread(self) -> Decimal | None:
        return self.consensus.spread

    @strawberry.field(description="How the value was formed.")
    @reads("consensus.method", via=_method)
    def method(self) -> ConsensusMethod:
        return _method(self.consensus.method)

    @strawberry.field(
        description="Sources whose quotes were rejected as outliers.",
        directives=[list_size(assumed_size=10)],
    )
    def outliers(self) -> list[str]:
        return list(self.consensus.outliers)

    @strawberry.field(
        description="Every source's latest quote, used or not, with the reason when not.",
        directives=[list_size(assumed_size=10)],
    )
    def sources(self) -> list[PriceSource]:
        return [PriceSource.of(v) for v in self.consensus.sources]

    @classmethod
    def of(cls, c: Consensus) -> Price:
        return make_price(c)


#: ``Price(consensus=)``, positionally and at half the cost (schema.view)
make_price: Callable[[Consensus], Price] = constructor(Price)


@strawberry.type(
    description=(
        "Market figures from the freshest quote that carries them (one source, never mixed "
        "or converted)."
    )
)
class Market:
    quote: str = strawberry.field(description="Quote currency of the money figures.")
    market_cap: Decimal | None = strawberry.field(description="Market capitalisation.")
    volume_24h: Decimal | None = strawberry.field(description="Traded volume over 24 hours.")
    change_1h: Decimal | None = strawberry.field(description="Price change over 1 hour, percent.")
    change_24h: Decimal | None = strawberry.field(
        description="Price change over 24 hours, percent."
    )
    change_7d: Decimal | None = strawberry.field(description="Price change over 7 days, percent.")
    circulating_supply: Decimal | None = strawberry.field(description="Circulating supply.")
    total_supply: Decimal | None = strawberry.field(description="Total supply.")
    max_supply: Decimal | None = strawberry.field(description="Maximum supply (null: uncapped).")
    source: str = strawberry.field(description="The source of these figures.")
    observed_at: datetime = strawberry.field(description="When the source observed them.")
    age_seconds: int = strawberry.field(description="Their age at the instant read.")
    stale: bool = strawberry.field(
        description="Older than the source's staleness threshold at the instant read."
    )

    @classmethod
    def of(cls, q: QuoteRecord, instant: Instant, stale_after: int) -> Market:
        age = instant.age_seconds(q.observed_at)
        return cls(
            quote=q.quote_currency,
            market_cap=q.market_cap,
            volume_24h=q.volume_24h,
            change_1h=q.change_1h,
            change_24h=q.change_24h,
            change_7d=q.change_7d,
            circulating_supply=q.circulating_supply,
            total_supply=q.total_supply,
            max_supply=q.max_supply,
            source=q.source,
            observed_at=q.observed_at,
            age_seconds=age,
            stale=age > stale_after,
        )
