"""The ``Candle`` type: one OHLCV bucket aggregated on read."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from resolvers.intervals import Bucket


@strawberry.type(
    description=(
        "OHLCV for one interval bucket, built from the coarsest stored candles that divide "
        "the interval (gap policy in docs/graph.md)."
    )
)
class Candle:
    open_time: datetime = strawberry.field(description="Bucket start (inclusive), UTC.")
    close_time: datetime = strawberry.field(description="Bucket end (exclusive), UTC.")
    open: Decimal = strawberry.field(description="First trade price in the bucket.")
    high: Decimal = strawberry.field(description="Highest price.")
    low: Decimal = strawberry.field(description="Lowest price.")
    close: Decimal = strawberry.field(description="Last price (so far, while forming).")
    volume: Decimal | None = strawberry.field(
        description="Base-asset volume summed over the stored candles (null if none had one)."
    )
    is_complete: bool = strawberry.field(
        description=(
            "False while the bucket is still forming, or when stored candles inside it are "
            "missing or themselves incomplete."
        )
    )
    interval: str = strawberry.field(description="The requested interval, e.g. 1h.")
    source_interval: str = strawberry.field(
        description="The stored interval it was built from, e.g. 1m."
    )
    parts_present: int = strawberry.field(description="Stored candles found in the bucket.")
    parts_expected: int = strawberry.field(description="Stored candles a full bucket has.")
    quote: str = strawberry.field(description="Quote currency of the prices.")
    source: str = strawberry.field(description="The one source every part came from.")

    @classmethod
    def of(cls, b: Bucket, interval: str) -> Candle:
        return cls(
            open_time=b.open_time,
            close_time=b.close_time,
            open=b.open,
            high=b.high,
            low=b.low,
            close=b.close,
            volume=b.volume,
            is_complete=b.is_complete,
            interval=interval,
            source_interval=b.source_interval,
            parts_present=b.parts,
            parts_expected=b.expected_parts,
            quote=b.quote_currency,
            source=b.source,
        )
