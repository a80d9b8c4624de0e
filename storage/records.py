"""Plain, immutable records handed from repositories up to the GraphQL layers.

Repositories return these (never live ORM objects), so nothing above storage
can trigger lazy loads or hold a session open. Money and prices are
``Decimal``; every timestamp is timezone-aware UTC.

The records whose fields are exactly a table's columns (signals, chains,
contracts, chain metrics, transfers) are also what ingest hands the write
repositories; :func:`row_values` is the one place a record becomes the
``{column: value}`` mapping an INSERT takes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@dataclass(frozen=True, slots=True)
class AssetRecord:
    id: int
    canonical_id: str
    symbol: str
    name: str
    kind: str
    rank: int | None
    native_chain_id: str | None
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QuoteRecord:
    """One source's observation of an asset, in one quote currency."""

    source: str
    asset_id: int
    quote_currency: str
    price: Decimal
    volume_24h: Decimal | None
    market_cap: Decimal | None
    change_1h: Decimal | None
    change_24h: Decimal | None
    change_7d: Decimal | None
    circulating_supply: Decimal | None
    total_supply: Decimal | None
    max_supply: Decimal | None
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class CandleRecord:
    """A stored candle, keyed by its open time."""

    source: str
    asset_id: int
    quote_currency: str
    interval: str
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None
    is_complete: bool


@dataclass(frozen=True, slots=True)
class SignalRecord:
    source: str
    asset_id: int
    kind: str
    value: Decimal
    direction: str
    horizon: str
    computed_at: datetime
    details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ChainRecord:
    id: str
    name: str
    caip2: str
    evm_chain_id: int | None
    native_asset_id: int | None


@dataclass(frozen=True, slots=True)
class ContractRecord:
    asset_id: int
    chain_id: str
    address: str
    decimals: int


@dataclass(frozen=True, slots=True)
class BlockRecord:
    source: str
    chain_id: str
    number: int
    hash: str
    parent_hash: str
    timestamp: datetime
    gas_used: Decimal
    gas_limit: Decimal
    base_fee_per_gas: Decimal | None
    tx_count: int
    priority_fee_p10: Decimal | None
    priority_fee_p50: Decimal | None
    priority_fee_p90: Decimal | None
    canonical: bool


@dataclass(frozen=True, slots=True)
class ChainMetricRecord:
    source: str
    chain_id: str
    kind: str
    ts: datetime
    value: Decimal


@dataclass(frozen=True, slots=True)
class TransferRecord:
    source: str
    chain_id: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    contract_address: str
    from_address: str
    to_address: str
    value: Decimal
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class TransferStats:
    """Count and summed raw value of a token's transfers over a time window."""

    chain_id: str
    contract_address: str
    count: int
    volume: Decimal
    last_at: datetime | None


@dataclass(frozen=True, slots=True)
class AssetListQuery:
    """One page request of the asset list, as the repository understands it.

    Hashable, so it doubles as a loader key. ``at`` is the instant the sort
    figures are read at; ``quote_since``/``signal_since`` bound how far back
    the latest figure is searched (see ``docs/graph.md``).
    """

    canonical_ids: tuple[str, ...] | None
    symbols: tuple[str, ...] | None
    kind: str | None
    category: str | None
    min_market_cap: Decimal | None
    order: str
    descending: bool
    after: tuple[float | None, int] | None
    limit: int
    at: datetime
    quote_since: datetime
    signal_since: datetime


@dataclass(frozen=True, slots=True)
class AssetPageRow:
    asset: AssetRecord
    sort_value: float | None


@dataclass(frozen=True, slots=True)
class AssetPage:
    rows: tuple[AssetPageRow, ...]
    has_next: bool


def row_values(record: DataclassInstance) -> dict[str, Any]:
    """A record as the ``{column: value}`` mapping an INSERT takes.

    Write rows are these records (or dataclasses shaped like them) whose field
    names are the table's column names, so the mapping is the fields
    themselves, in declaration order. Values are not copied.
    """
    return {f.name: getattr(record, f.name) for f in fields(record)}
