"""Test data factory: insert graph data with sensible defaults, on either backend.

Usage::

    f = Factory(db.sessions)
    btc = await f.asset("bitcoin", symbol="BTC", categories=["layer-1"])
    await f.quote(btc, "coingecko", "64000.5", market_cap="1.2e12")
    await f.candles(btc, "1h", start, [("100", "110", "90", "105", "12.5"), ...])

Every helper commits its own short transaction and returns the inserted row's
key (an asset's integer id, a chain's slug …), so tests read like data
descriptions. Prices and amounts accept ``str | int | Decimal`` and are
stored exactly; timestamps must be timezone-aware.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from storage.engine import SessionFactory
from storage.models import (
    Asset,
    AssetAlias,
    AssetCategory,
    Block,
    Candle,
    Chain,
    ChainMetric,
    Erc20Transfer,
    Market,
    Quote,
    SignalValue,
    TokenContract,
)

Num = str | int | Decimal
OHLCV = tuple[Num, Num, Num, Num, Num | None]


INTERVAL_SECONDS = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "1w": 604800,
}


def dec(value: Num | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def ago(seconds: float, *, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(seconds=seconds)


class Factory:
    """Async inserts for the graph's tables; one short transaction per call."""

    _serial = itertools.count(1)

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    async def _insert(self, model: Any, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        async with self.sessions() as s:
            await s.execute(insert(model), list(rows))
            await s.commit()

    async def asset(
        self,
        canonical_id: str,
        *,
        symbol: str | None = None,
        name: str | None = None,
        kind: str = "coin",
        rank: int | None = None,
        native_chain_id: str | None = None,
        categories: Iterable[str] = (),
    ) -> int:
        async with self.sessions() as s:
            row = Asset(
                canonical_id=canonical_id,
                symbol=symbol or canonical_id[:4].upper(),
                name=name or canonical_id.replace("-", " ").title(),
                kind=kind,
                rank=rank,
                native_chain_id=native_chain_id,
            )
            s.add(row)
            await s.flush()
            for cat in categories:
                s.add(AssetCategory(asset_id=row.id, category=cat))
            await s.commit()
            return row.id

    async def alias(self, asset_id: int, source: str, external_id: str) -> None:
        await self._insert(
            AssetAlias, [{"asset_id": asset_id, "source": source, "external_id": external_id}]
        )

    async def market(
        self, asset_id: int, source: str, symbol: str, quote_currency: str = "USD"
    ) -> None:
        await self._insert(
            Market,
            [
                {
                    "source": source,
                    "symbol": symbol,
                    "base_asset_id": asset_id,
                    "quote_currency": quote_currency,
                }
            ],
        )

    async def chain(
        self,
        chain_id: str = "ethereum",
        *,
        name: str | None = None,
        caip2: str | None = None,
        evm_chain_id: int | None = 1,
        native_asset_id: int | None = None,
    ) -> str:
        await self._insert(
            Chain,
            [
                {
                    "id": chain_id,
                    "name": name or chain_id.title(),
                    "caip2": caip2 or f"eip155:{evm_chain_id or next(self._serial)}",
                    "evm_chain_id": evm_chain_id,
                    "native_asset_id": native_asset_id,
                }
            ],
        )
        return chain_id

    async def contract(
        self, asset_id: int, chain_id: str, address: str, decimals: int = 18
    ) -> tuple[str, str]:
        await self._insert(
            TokenContract,
            [
                {
                    "asset_id": asset_id,
                    "chain_id": chain_id,
                    "address": address.lower(),
                    "decimals": decimals,
                }
            ],
        )
        return chain_id, address.lower()

    async def quote(
        self,
        asset_id: int,
        source: str,
        price: Num,
        *,
        quote_currency: str = "USD",
        observed_at: datetime | None = None,
        volume_24h: Num | None = None,
        market_cap: Num | None = None,
        change_1h: Num | None = None,
        change_24h: Num | None = None,
        change_7d: Num | None = None,
        circulating_supply: Num | None = None,
        total_supply: Num | None = None,
        max_supply: Num | None = None,
    ) -> None:
        await self._insert(
            Quote,
            [
                {
                    "source": source,
                    "asset_id": asset_id,
                    "quote_currency": quote_currency,
                    "price": dec(price),
                    "volume_24h": dec(volume_24h),
                    "market_cap": dec(market_cap),
                    "change_1h": dec(change_1h),
                    "change_24h": dec(change_24h),
                    "change_7d": dec(change_7d),
                    "circulating_supply": dec(circulating_supply),
                    "total_supply": dec(total_supply),
                    "max_supply": dec(max_supply),
                    "observed_at": observed_at or datetime.now(UTC),
                }
            ],
        )

    async def candles(
        self,
        asset_id: int,
        interval: str,
        start: datetime,
        bars: Sequence[OHLCV],
        *,
        source: str = "binance",
        quote_currency: str = "USD",
        is_complete: bool | Sequence[bool] = True,
        step: timedelta | None = None,
    ) -> list[datetime]:
        """Consecutive candles from ``start``; returns their open times.

        ``step`` defaults to the interval's length (required for ``1M``).
        """
        delta = step or timedelta(seconds=INTERVAL_SECONDS[interval])
        flags = [is_complete] * len(bars) if isinstance(is_complete, bool) else list(is_complete)
        times = [start + delta * i for i in range(len(bars))]
        await self._insert(
            Candle,
            [
                {
                    "source": source,
                    "asset_id": asset_id,
                    "quote_currency": quote_currency,
                    "interval": interval,
                    "open_time": t,
                    "open": dec(o),
                    "high": dec(h),
                    "low": dec(low),
                    "close": dec(c),
                    "volume": dec(v),
                    "is_complete": flag,
                }
                for t, (o, h, low, c, v), flag in zip(times, bars, flags, strict=True)
            ],
        )
        return times

    async def candle_at(
        self,
        asset_id: int,
        interval: str,
        open_time: datetime,
        bar: OHLCV,
        *,
        source: str = "binance",
        quote_currency: str = "USD",
        is_complete: bool = True,
    ) -> None:
        await self.candles(
            asset_id,
            interval,
            open_time,
            [bar],
            source=source,
            quote_currency=quote_currency,
            is_complete=is_complete,
            step=timedelta(0),
        )

    async def signal(
        self,
        asset_id: int,
        kind: str,
        value: Num,
        *,
        source: str = "cryptoql",
        direction: str = "neutral",
        horizon: str = "1h",
        computed_at: datetime | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        await self._insert(
            SignalValue,
            [
                {
                    "source": source,
                    "asset_id": asset_id,
                    "kind": kind,
                    "value": dec(value),
                    "direction": direction,
                    "horizon": horizon,
                    "computed_at": computed_at or datetime.now(UTC),
                    "details": details,
                }
            ],
        )

    async def block(
        self,
        chain_id: str,
        number: int,
        *,
        timestamp: datetime | None = None,
        hash: str | None = None,
        parent_hash: str | None = None,
        base_fee: Num | None = 10_000_000_000,
        priority_fees: tuple[Num, Num, Num] | None = (1_000_000, 1_500_000_000, 3_000_000_000),
        gas_used: Num = 15_000_000,
        gas_limit: Num = 30_000_000,
        tx_count: int = 150,
        canonical: bool = True,
        source: str = "rpc",
    ) -> str:
        block_hash = hash or f"0x{number:064x}"
        p10, p50, p90 = priority_fees or (None, None, None)
        await self._insert(
            Block,
            [
                {
                    "source": source,
                    "chain_id": chain_id,
                    "number": number,
                    "hash": block_hash,
                    "parent_hash": parent_hash or f"0x{number - 1:064x}",
                    "timestamp": timestamp or datetime.now(UTC),
                    "gas_used": dec(gas_used),
                    "gas_limit": dec(gas_limit),
                    "base_fee_per_gas": dec(base_fee),
                    "tx_count": tx_count,
                    "priority_fee_p10": dec(p10),
                    "priority_fee_p50": dec(p50),
                    "priority_fee_p90": dec(p90),
                    "canonical": canonical,
                }
            ],
        )
        return block_hash

    async def metric(
        self,
        chain_id: str,
        kind: str,
        value: Num,
        *,
        ts: datetime | None = None,
        source: str = "rpc",
    ) -> None:
        await self._insert(
            ChainMetric,
            [
                {
                    "source": source,
                    "chain_id": chain_id,
                    "kind": kind,
                    "ts": ts or datetime.now(UTC),
                    "value": dec(value),
                }
            ],
        )

    async def transfer(
        self,
        chain_id: str,
        contract_address: str,
        value: Num,
        *,
        timestamp: datetime | None = None,
        block_number: int = 1,
        log_index: int | None = None,
        from_address: str = "0x" + "a" * 40,
        to_address: str = "0x" + "b" * 40,
        source: str = "rpc",
    ) -> None:
        n = next(self._serial)
        await self._insert(
            Erc20Transfer,
            [
                {
                    "source": source,
                    "chain_id": chain_id,
                    "block_number": block_number,
                    "block_hash": f"0x{block_number:064x}",
                    "tx_hash": f"0x{n:064x}",
                    "log_index": n if log_index is None else log_index,
                    "contract_address": contract_address.lower(),
                    "from_address": from_address,
                    "to_address": to_address,
                    "value": dec(value),
                    "timestamp": timestamp or datetime.now(UTC),
                }
            ],
        )
