"""The payload published on each channel: one builder per channel kind.

Ingest builds messages only through these functions, so the subscription layer
(``resolvers.subscriptions``) can rely on their shape whichever source produced
them. Decimals travel as exact strings and timestamps as ISO-8601 UTC (the
broker's JSON round trip does both); ``None`` marks a figure the source lacks.

* ``channels.prices(asset, quote)``  — :func:`price_tick`, one per stored quote
  (per source; the subscription layer computes the consensus across sources);
* ``channels.candles(asset, interval)`` — :func:`candle_update`, the forming
  candle each time it changes (``is_complete`` false) and once closed (true);
* ``channels.blocks(chain_id)`` — :func:`block_head`, one per new head;
* ``channels.signals(asset)`` — :func:`signal_value`, one per computed signal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pubsub.broker import Message


def _dec(value: Decimal | int | str | None) -> str | None:
    return None if value is None else str(value)


def _ts(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return value.astimezone(UTC).isoformat()


def price_tick(
    *,
    asset: str,
    quote: str,
    source: str,
    price: Decimal,
    observed_at: datetime,
    volume_24h: Decimal | None = None,
    market_cap: Decimal | None = None,
    change_24h: Decimal | None = None,
) -> Message:
    return {
        "asset": asset,
        "quote": quote.upper(),
        "source": source,
        "price": _dec(price),
        "observed_at": _ts(observed_at),
        "volume_24h": _dec(volume_24h),
        "market_cap": _dec(market_cap),
        "change_24h": _dec(change_24h),
    }


def candle_update(
    *,
    asset: str,
    quote: str,
    interval: str,
    source: str,
    open_time: datetime,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    volume: Decimal | None,
    is_complete: bool,
) -> Message:
    return {
        "asset": asset,
        "quote": quote.upper(),
        "interval": interval,
        "source": source,
        "open_time": _ts(open_time),
        "open": _dec(open),
        "high": _dec(high),
        "low": _dec(low),
        "close": _dec(close),
        "volume": _dec(volume),
        "is_complete": is_complete,
    }


def block_head(
    *,
    chain: str,
    source: str,
    number: int,
    hash: str,
    parent_hash: str,
    timestamp: datetime,
    gas_used: Decimal | int,
    gas_limit: Decimal | int,
    tx_count: int,
    base_fee_per_gas: Decimal | int | None = None,
    priority_fee_p50: Decimal | int | None = None,
) -> Message:
    return {
        "chain": chain,
        "source": source,
        "number": number,
        "hash": hash,
        "parent_hash": parent_hash,
        "timestamp": _ts(timestamp),
        "gas_used": _dec(gas_used),
        "gas_limit": _dec(gas_limit),
        "tx_count": tx_count,
        "base_fee_per_gas": _dec(base_fee_per_gas),
        "priority_fee_p50": _dec(priority_fee_p50),
    }


def signal_value(
    *,
    asset: str,
    source: str,
    kind: str,
    value: Decimal,
    direction: str,
    horizon: str,
    computed_at: datetime,
    details: dict[str, Any] | None = None,
) -> Message:
    return {
        "asset": asset,
        "source": source,
        "kind": kind,
        "value": _dec(value),
        "direction": direction,
        "horizon": horizon,
        "computed_at": _ts(computed_at),
        "details": details,
    }
