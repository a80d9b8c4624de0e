"""The ``Candle`` type: one OHLCV bucket aggregated on read."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from resolvers.intervals import Bucket
from schema.compiled.batch import reads


@strawberry.type(
    description=(
        "OHLCV for one interval bucket, built from the coarsest stored candles that divide "
        "the interval (gap policy in docs/graph.md)."
    )
)
class Candle:
    """A view over one :class:`~resolvers.intervals.Bucket`: fields read the bucket
    when selected, so a 24-point sparkline builds no 14-field copy per point."""

    bucket: strawberry.Private[Bucket]
    interval_name: strawberry.Private[str]

    @strawberry.field(description="Bucket start (inclusive), UTC.")
    @reads("bucket.open_time")
    def open_time(self) -> datetime:
        return self.bucket.open_time

    @strawberry.field(description="Bucket end (exclusive), UTC.")
    @reads("bucket.close_time")
    def close_time(self) -> datetime:
        return self.bucket.close_time

    @strawberry.field(description="First trade price in the bucket.")
    @reads("bucket.open")
    def open(self) -> Decimal:
        return self.bucket.open

    @strawberry.field(description="Highest price.")
    @reads("bucket.high")
    def high(self) -> Decimal:
        return self.bucket.high

    @strawberry.field(description="Lowest price.")
    @reads("bucket.low")
    def low(self) -> Decimal:
        return self.bucket.low

    @strawberry.field(description="Last price (so far, while forming).")
    @reads("bucket.close")
    def close(self) -> Decimal:
        return self.bucket.close

    @strawberry.field(
        description="Base-asset volume summed over the stored candles (null if none had one)."
    )
    @reads("bucket.volume")
    def volume(self) -> Decimal | None:
        return self.bucket.volume

    @strawberry.field(
        description=(
            "False while the bucket is still forming, or when stored candles inside it are "
            "missing or themselves incomplete."
        )
    )
    @reads("bucket.is_complete")
    def is_complete(self) -> bool:
        return self.bucket.is_complete

    @strawberry.field(description="The requested interval, e.g. 1h.")
    @reads("interval_name")
    def interval(self) -> str:
        return self.interval_name

    @strawberry.field(description="The stored interval it was built from, e.g. 1m.")
    @reads("bucket.source_interval")
    def source_interval(self) -> str:
        return self.bucket.source_interval

    @strawberry.field(description="Stored candles found in the bucket.")
    @reads("bucket.parts")
    def parts_present(self) -> int:
        return self.bucket.parts

    @strawberry.field(description="Stored candles a full bucket has.")
    @reads("bucket.expected_parts")
    def parts_expected(self) -> int:
        return self.bucket.expected_parts

    @strawberry.field(description="Quote currency of the prices.")
    @reads("bucket.quote_currency")
    def quote(self) -> str:
        return self.bucket.quote_currency

    @strawberry.field(description="The one source every part came from.")
    @reads("bucket.source")
    def source(self) -> str:
        return self.bucket.source

    @classmethod
    def of(cls, b: Bucket, interval: str) -> Candle:
        return cls(bucket=b, interval_name=interval)
