"""The ``Subscription`` root: live prices, candles, blocks and signals (docs/subscriptions.md).

Every event carries ``seq`` (its number in its channel), ``ts`` (when the
broker published it) and ``cursor``: pass the last cursor you received as
``after`` when you subscribe again and the server replays exactly what you
missed from its replay window, then continues live — or answers
``REPLAY_WINDOW_EXCEEDED`` when the gap is too old, so you refetch with a query.
Under a slow connection ``prices``, ``candles`` and ``signals`` conflate to
the latest value per key; ``blocks`` drop the oldest and close the socket
(4013) past a threshold.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from resolvers import subscriptions as live
from resolvers.instant import Instant
from resolvers.intervals import Bucket, close_time, parse_interval
from resolvers.intervals import floor as bucket_floor
from resolvers.subscriptions.streams import (
    EventMeta,
    LiveBlock,
    LiveCandle,
    LivePrice,
    LiveSignal,
    PriceTick,
)
from schema.assets import Asset
from schema.candles import Candle
from schema.chains import Block
from schema.compiled.batch import reads
from schema.info import Info
from schema.prices import Price
from schema.signals import Signal
from storage.records import BlockRecord, SignalRecord

AFTER = "Resume after this cursor: replays missed events from the window, then continues live."


@strawberry.interface(description="What every live event carries: its position in the stream.")
class LiveEvent:
    meta: strawberry.Private[EventMeta]

    @strawberry.field(description="Sequence number of this event in its channel (per asset/chain).")
    @reads("meta.seq")
    def seq(self) -> int:
        return self.meta.seq

    @strawberry.field(description="When the server published the event (UTC).")
    @reads("meta.ts")
    def ts(self) -> datetime:
        return self.meta.ts

    @strawberry.field(description="Opaque position of the whole subscription; pass as `after:`.")
    @reads("meta.cursor")
    def cursor(self) -> str:
        return self.meta.cursor


@strawberry.type(description="The source tick that moved a consensus price.")
class LiveTick:
    tick: strawberry.Private[PriceTick]

    @strawberry.field(description="The source that reported it.")
    @reads("tick.source")
    def source(self) -> str:
        return self.tick.source

    @strawberry.field(description="The price it reported, in the subscription's quote currency.")
    @reads("tick.price")
    def price(self) -> Decimal:
        return self.tick.price

    @strawberry.field(description="When the source observed it.")
    @reads("tick.observed_at")
    def observed_at(self) -> datetime:
        return self.tick.observed_at

    @strawberry.field(description="24-hour volume, when the source reports it.")
    @reads("tick.volume_24h")
    def volume_24h(self) -> Decimal | None:
        return self.tick.volume_24h

    @strawberry.field(description="Market capitalisation, when the source reports it.")
    @reads("tick.market_cap")
    def market_cap(self) -> Decimal | None:
        return self.tick.market_cap

    @strawberry.field(description="24-hour change in percent, when the source reports it.")
    @reads("tick.change_24h")
    def change_24h(self) -> Decimal | None:
        return self.tick.change_24h


@strawberry.type(description="A new consensus price for one asset, with its provenance.")
class PriceUpdate(LiveEvent):
    event: strawberry.Private[LivePrice]

    @strawberry.field(description="Canonical id of the asset.")
    @reads("event.asset_id")
    def asset_id(self) -> str:
        return self.event.asset_id

    @strawberry.field(description="Quote currency of the price.")
    @reads("event.quote")
    def quote(self) -> str:
        return self.event.quote

    @strawberry.field(description="The consensus across sources after this tick (median, MAD).")
    def price(self) -> Price:
        return Price.of(self.event.consensus)

    @strawberry.field(description="The per-source tick that triggered this update.")
    def tick(self) -> LiveTick:
        return LiveTick(tick=self.event.tick)

    @strawberry.field(description="The asset (read once per event for all subscribers).")
    async def asset(self, info: Info) -> Asset | None:
        rec = await info.context.loaders.asset_by_canonical_id.load(self.event.asset_id)
        return Asset(record=rec, instant=Instant(at=info.context.now)) if rec else None

    @classmethod
    def wrap(cls, record: LivePrice, meta: EventMeta) -> PriceUpdate:
        return cls(meta=meta, event=record)


@strawberry.type(description="The forming candle as it updates, then the closed one.")
class CandleUpdate(LiveEvent):
    event: strawberry.Private[LiveCandle]

    @strawberry.field(description="Canonical id of the asset.")
    @reads("event.asset_id")
    def asset_id(self) -> str:
        return self.event.asset_id

    @strawberry.field(description="True once the candle has closed (its final values).")
    @reads("event.is_complete")
    def is_complete(self) -> bool:
        return self.event.is_complete

    @strawberry.field(description="The candle.")
    def candle(self) -> Candle:
        c = self.event
        iv = parse_interval(c.interval)
        bucket = Bucket(
            open_time=c.open_time,
            close_time=close_time(iv, bucket_floor(iv, c.open_time)),
            open=c.open,
            high=c.high,
            low=c.low,
            close=c.close,
            volume=c.volume,
            is_complete=c.is_complete,
            source=c.source,
            quote_currency=c.quote,
            source_interval=c.interval,
            parts=1,
            expected_parts=1,
        )
        return Candle.of(bucket, c.interval)

    @classmethod
    def wrap(cls, record: LiveCandle, meta: EventMeta) -> CandleUpdate:
        return cls(meta=meta, event=record)


@strawberry.type(description="A new chain head.")
class BlockUpdate(LiveEvent):
    event: strawberry.Private[LiveBlock]

    @strawberry.field(description="Chain slug, e.g. ethereum.")
    @reads("event.chain_id")
    def chain_id(self) -> str:
        return self.event.chain_id

    @strawberry.field(description="The block header with its fee summary.")
    def block(self) -> Block:
        b = self.event
        return Block(
            record=BlockRecord(
                source=b.source,
                chain_id=b.chain_id,
                number=b.number,
                hash=b.hash,
                parent_hash=b.parent_hash,
                timestamp=b.timestamp,
                gas_used=b.gas_used or Decimal(0),
                gas_limit=b.gas_limit or Decimal(0),
                base_fee_per_gas=b.base_fee_per_gas,
                tx_count=b.tx_count,
                priority_fee_p10=None,
                priority_fee_p50=b.priority_fee_p50,
                priority_fee_p90=None,
                canonical=True,
            )
        )

    @classmethod
    def wrap(cls, record: LiveBlock, meta: EventMeta) -> BlockUpdate:
        return cls(meta=meta, event=record)


@strawberry.type(description="A newly computed trading signal.")
class SignalUpdate(LiveEvent):
    event: strawberry.Private[LiveSignal]

    @strawberry.field(description="Canonical id of the asset.")
    @reads("event.asset_id")
    def asset_id(self) -> str:
        return self.event.asset_id

    @strawberry.field(description="The signal.")
    def signal(self) -> Signal:
        s = self.event
        record = SignalRecord(
            source=s.source,
            asset_id=0,
            kind=s.kind,
            value=s.value,
            direction=s.direction,
            horizon=s.horizon,
            computed_at=s.computed_at,
            details=s.details,
        )
        return Signal.of(record, Instant(at=datetime.now(UTC)))

    @classmethod
    def wrap(cls, record: LiveSignal, meta: EventMeta) -> SignalUpdate:
        return cls(meta=meta, event=record)


@strawberry.type(description="Live data over WebSocket (graphql-transport-ws or graphql-ws).")
class Subscription:
    @strawberry.subscription(description="Consensus price updates for the given assets.")
    async def prices(
        self,
        info: Info,
        asset_ids: list[str],
        quote: str = "USD",
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> AsyncGenerator[PriceUpdate, None]:
        stream = await live.prices(
            info.context,
            info._raw_info,
            asset_ids=asset_ids,
            quote=quote,
            after=after,
            wrap=PriceUpdate.wrap,
        )
        async with aclosing(stream):
            async for item in stream:
                yield item

    @strawberry.subscription(description="The forming candle of an interval, then the closed one.")
    async def candles(
        self,
        info: Info,
        asset_id: str,
        interval: str = "1m",
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> AsyncGenerator[CandleUpdate, None]:
        stream = await live.candles(
            info.context,
            info._raw_info,
            asset_id=asset_id,
            interval=interval,
            after=after,
            wrap=CandleUpdate.wrap,
        )
        async with aclosing(stream):
            async for item in stream:
                yield item

    @strawberry.subscription(description="New heads of a chain (slug or CAIP-2 id).")
    async def blocks(
        self,
        info: Info,
        chain_id: str,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> AsyncGenerator[BlockUpdate, None]:
        stream = await live.blocks(
            info.context, info._raw_info, chain_id=chain_id, after=after, wrap=BlockUpdate.wrap
        )
        async with aclosing(stream):
            async for item in stream:
                yield item

    @strawberry.subscription(description="New signals for the given assets (optionally by kind).")
    async def signals(
        self,
        info: Info,
        asset_ids: list[str],
        kinds: list[str] | None = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> AsyncGenerator[SignalUpdate, None]:
        stream = await live.signals(
            info.context,
            info._raw_info,
            asset_ids=asset_ids,
            kinds=kinds,
            after=after,
            wrap=SignalUpdate.wrap,
        )
        async with aclosing(stream):
            async for item in stream:
                yield item
