"""What each subscription field streams: its channels, its state, and its events.

A :class:`Stream` turns broker events into records the schema wraps. It is
pure (no I/O): the shared topic feeds it events in order, and the replay of a
resuming subscriber feeds a fresh one the retained events, so a replayed event
is built exactly as it was live.

* ``prices`` keeps each source's latest tick per (asset, quote) and emits the
  consensus (``resolvers.consensus.agree``) after every tick, with the tick
  that moved it. Policy: **conflate** — a slow subscriber gets the latest
  update per asset, never a backlog.
* ``candles`` emits the forming candle as it changes, then the closed one.
  Policy: conflate per (source, open time): an unsent forming update is
  replaced by a newer one, the closed candle replaces both.
* ``blocks`` emits every new head. Policy: **queue** — bounded, drop-oldest,
  and the socket is closed (4013) after ``ws_drop_close_threshold`` drops.
* ``signals`` emits the signals of the requested kinds. Policy: conflate per
  (asset, kind, source).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pubsub import channels as ch
from pubsub.broker import Event
from resolvers.config import GraphConfig
from resolvers.consensus import Consensus, SourcePrice, agree

Policy = Literal["conflate", "queue"]


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _ts(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class EventMeta:
    """Where an event stands in its stream: what clients resume from."""

    channel: str
    seq: int
    ts: datetime
    cursor: str


@dataclass(frozen=True, slots=True)
class PriceTick:
    source: str
    price: Decimal
    observed_at: datetime
    volume_24h: Decimal | None
    market_cap: Decimal | None
    change_24h: Decimal | None


@dataclass(frozen=True, slots=True)
class LivePrice:
    asset_id: str
    quote: str
    consensus: Consensus
    tick: PriceTick


@dataclass(frozen=True, slots=True)
class LiveCandle:
    asset_id: str
    quote: str
    interval: str
    source: str
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None
    is_complete: bool


@dataclass(frozen=True, slots=True)
class LiveBlock:
    chain_id: str
    source: str
    number: int
    hash: str
    parent_hash: str
    timestamp: datetime
    gas_used: Decimal | None
    gas_limit: Decimal | None
    tx_count: int
    base_fee_per_gas: Decimal | None
    priority_fee_p50: Decimal | None


@dataclass(frozen=True, slots=True)
class LiveSignal:
    asset_id: str
    source: str
    kind: str
    value: Decimal
    direction: str
    horizon: str
    computed_at: datetime
    details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Emitted:
    """A record to render, and the key its frames conflate on (``None``: never)."""

    record: Any
    key: Hashable | None


class Stream:
    """Base: a stream is identified by ``key`` and reads ``channels`` (sorted)."""

    kind: str = ""
    policy: Policy = "conflate"
    #: whether ``fold`` needs the events before a cursor to build its state
    needs_history: bool = False

    def __init__(self, channels: Sequence[str], params: tuple[Any, ...]) -> None:
        self.channels: tuple[str, ...] = tuple(sorted(set(channels)))
        self.key: tuple[Any, ...] = (self.kind, self.channels, params)

    def new_state(self) -> Any:
        return None

    def fold(self, state: Any, event: Event) -> Emitted | None:
        raise NotImplementedError

    def absorb(self, state: Any, event: Event) -> None:
        """Update the state with a past event without building a record (history)."""
        if self.needs_history:
            self.fold(state, event)


@dataclass
class _PriceState:
    latest: dict[str, dict[str, SourcePrice]] = field(default_factory=dict)


class PricesStream(Stream):
    kind = "prices"
    policy: Policy = "conflate"
    needs_history = True

    def __init__(self, asset_ids: Sequence[str], quote: str, config: GraphConfig) -> None:
        self.quote = quote.upper()
        self.config = config
        super().__init__([ch.prices(a, self.quote) for a in asset_ids], (self.quote,))

    def new_state(self) -> _PriceState:
        return _PriceState()

    def _update(self, state: _PriceState, event: Event) -> SourcePrice | None:
        data = event.data
        price = _dec(data.get("price"))
        source = data.get("source")
        if price is None or not isinstance(source, str) or not isinstance(data.get("asset"), str):
            return None
        observed_at = _ts(data["observed_at"])
        entry = SourcePrice(
            source=source,
            price=price,
            quote=self.quote,
            original_currency=self.quote,
            original_price=price,
            observed_at=observed_at,
        )
        per_source = state.latest.setdefault(event.channel, {})
        known = per_source.get(source)
        if known is None or known.observed_at <= observed_at:
            per_source[source] = entry
        return entry

    def absorb(self, state: _PriceState, event: Event) -> None:
        self._update(state, event)

    def fold(self, state: _PriceState, event: Event) -> Emitted | None:
        entry = self._update(state, event)
        if entry is None:
            return None
        data = event.data
        per_source = state.latest[event.channel]
        source, price, observed_at, asset = (
            entry.source,
            entry.original_price,
            entry.observed_at,
            str(data["asset"]),
        )
        consensus = agree(
            list(per_source.values()),
            quote=self.quote,
            at=event.ts,
            stale_after=self.config.stale_after,
            threshold=self.config.consensus_mad_threshold,
            min_deviation=self.config.consensus_min_deviation,
        )
        if consensus is None:
            return None
        tick = PriceTick(
            source=source,
            price=price,
            observed_at=observed_at,
            volume_24h=_dec(data.get("volume_24h")),
            market_cap=_dec(data.get("market_cap")),
            change_24h=_dec(data.get("change_24h")),
        )
        record = LivePrice(asset_id=asset, quote=self.quote, consensus=consensus, tick=tick)
        return Emitted(record, event.channel)


class CandlesStream(Stream):
    kind = "candles"
    policy: Policy = "conflate"

    def __init__(self, asset_id: str, interval: str) -> None:
        self.interval = interval
        super().__init__([ch.candles(asset_id, interval)], (interval,))

    def fold(self, state: None, event: Event) -> Emitted | None:
        d = event.data
        values = [_dec(d.get(k)) for k in ("open", "high", "low", "close")]
        if any(v is None for v in values):
            return None
        o, h, lo, c = (v for v in values if v is not None)
        record = LiveCandle(
            asset_id=str(d["asset"]),
            quote=str(d.get("quote", "USD")),
            interval=str(d.get("interval", self.interval)),
            source=str(d["source"]),
            open_time=_ts(d["open_time"]),
            open=o,
            high=h,
            low=lo,
            close=c,
            volume=_dec(d.get("volume")),
            is_complete=bool(d.get("is_complete")),
        )
        return Emitted(record, (event.channel, record.source, record.open_time))


class BlocksStream(Stream):
    kind = "blocks"
    policy: Policy = "queue"

    def __init__(self, chain_id: str) -> None:
        super().__init__([ch.blocks(chain_id)], ())

    def fold(self, state: None, event: Event) -> Emitted | None:
        d = event.data
        record = LiveBlock(
            chain_id=str(d["chain"]),
            source=str(d.get("source", "")),
            number=int(d["number"]),
            hash=str(d["hash"]),
            parent_hash=str(d.get("parent_hash", "")),
            timestamp=_ts(d["timestamp"]),
            gas_used=_dec(d.get("gas_used")),
            gas_limit=_dec(d.get("gas_limit")),
            tx_count=int(d.get("tx_count") or 0),
            base_fee_per_gas=_dec(d.get("base_fee_per_gas")),
            priority_fee_p50=_dec(d.get("priority_fee_p50")),
        )
        return Emitted(record, None)


class SignalsStream(Stream):
    kind = "signals"
    policy: Policy = "conflate"

    def __init__(self, asset_ids: Sequence[str], kinds: Sequence[str] | None) -> None:
        self.kinds = frozenset(kinds) if kinds else None
        params = (tuple(sorted(self.kinds)) if self.kinds else None,)
        super().__init__([ch.signals(a) for a in asset_ids], params)

    def fold(self, state: None, event: Event) -> Emitted | None:
        d = event.data
        kind = str(d.get("kind", ""))
        value = _dec(d.get("value"))
        if value is None or (self.kinds is not None and kind not in self.kinds):
            return None
        details = d.get("details")
        record = LiveSignal(
            asset_id=str(d["asset"]),
            source=str(d.get("source", "")),
            kind=kind,
            value=value,
            direction=str(d.get("direction", "neutral")),
            horizon=str(d.get("horizon", "")),
            computed_at=_ts(d["computed_at"]),
            details=details if isinstance(details, dict) else None,
        )
        return Emitted(record, (event.channel, kind, record.source))
