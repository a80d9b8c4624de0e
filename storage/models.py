"""ORM models for the unified crypto graph.

Every table that receives upstream data has a natural unique key, so every
write is an idempotent upsert. Relationships are ``lazy="raise"``: a missed
batch fails loudly instead of issuing N+1 queries.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import ExactDecimal, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Large integers (uint256 token amounts, wei) need 78 digits.
Uint256 = ExactDecimal(78, 0)
Money = ExactDecimal(40, 18)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        Decimal: Money,
        dict[str, Any]: JSON,
    }


class Asset(Base):
    """A canonical asset (CoinGecko id for coins; CAIP-19 for tokens without one)."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    canonical_id: Mapped[str] = mapped_column(String(200), unique=True)
    symbol: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="coin")  # coin|token|stablecoin|fiat
    rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The chain this asset is the native currency of (no FK: chains reference
    # assets, and a cycle of foreign keys makes table creation order-dependent).
    native_chain_id: Mapped[str | None] = mapped_column(String(60), nullable=True)

    categories: Mapped[list[AssetCategory]] = relationship(lazy="raise")


class AssetCategory(Base):
    __tablename__ = "asset_categories"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)


class AssetAlias(Base):
    """The id an upstream source uses for a canonical asset."""

    __tablename__ = "asset_aliases"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(200))


class Market(Base):
    """An exchange market: a pair of base and quote assets on one source."""

    __tablename__ = "markets"
    __table_args__ = (UniqueConstraint("source", "symbol"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(40))
    symbol: Mapped[str] = mapped_column(String(60))
    base_asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    quote_currency: Mapped[str] = mapped_column(String(20))


class Chain(Base):
    """A blockchain network (CAIP-2 namespace, e.g. ``eip155:1``)."""

    __tablename__ = "chains"

    id: Mapped[str] = mapped_column(String(60), primary_key=True)  # e.g. "ethereum"
    name: Mapped[str] = mapped_column(String(120))
    caip2: Mapped[str] = mapped_column(String(80), unique=True)
    evm_chain_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    native_asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), nullable=True)


class TokenContract(Base):
    __tablename__ = "token_contracts"
    __table_args__ = (UniqueConstraint("chain_id", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    chain_id: Mapped[str] = mapped_column(ForeignKey("chains.id"))
    address: Mapped[str] = mapped_column(String(80))  # lowercase hex
    decimals: Mapped[int] = mapped_column(Integer)


class Quote(Base):
    """One source's observation of an asset's price and market figures."""

    __tablename__ = "quotes"
    __table_args__ = (
        UniqueConstraint("source", "asset_id", "quote_currency", "observed_at"),
        Index("ix_quotes_lookup", "asset_id", "quote_currency", "observed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    quote_currency: Mapped[str] = mapped_column(String(20))
    price: Mapped[Decimal]
    volume_24h: Mapped[Decimal | None] = mapped_column(nullable=True)
    market_cap: Mapped[Decimal | None] = mapped_column(nullable=True)
    change_1h: Mapped[Decimal | None] = mapped_column(nullable=True)
    change_24h: Mapped[Decimal | None] = mapped_column(nullable=True)
    change_7d: Mapped[Decimal | None] = mapped_column(nullable=True)
    circulating_supply: Mapped[Decimal | None] = mapped_column(nullable=True)
    total_supply: Mapped[Decimal | None] = mapped_column(nullable=True)
    max_supply: Mapped[Decimal | None] = mapped_column(nullable=True)
    observed_at: Mapped[datetime]


class Candle(Base):
    """OHLCV for one interval, keyed by its OPEN time (close-time sources are normalised)."""

    __tablename__ = "candles"
    __table_args__ = (
        UniqueConstraint("source", "asset_id", "quote_currency", "interval", "open_time"),
        Index("ix_candles_lookup", "asset_id", "interval", "open_time"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    quote_currency: Mapped[str] = mapped_column(String(20))
    interval: Mapped[str] = mapped_column(String(8))
    open_time: Mapped[datetime]
    open: Mapped[Decimal]
    high: Mapped[Decimal]
    low: Mapped[Decimal]
    close: Mapped[Decimal]
    volume: Mapped[Decimal | None] = mapped_column(nullable=True)
    is_complete: Mapped[bool] = mapped_column(Boolean, default=True)


class SignalValue(Base):
    """A computed or upstream trading signal for an asset."""

    __tablename__ = "signal_values"
    __table_args__ = (
        UniqueConstraint("source", "asset_id", "kind", "computed_at"),
        Index("ix_signals_lookup", "asset_id", "kind", "computed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[Decimal]
    direction: Mapped[str] = mapped_column(String(10))  # bullish|bearish|neutral
    horizon: Mapped[str] = mapped_column(String(10))  # e.g. 1h, 1d
    computed_at: Mapped[datetime]
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ChainMetric(Base):
    """A point of a chain-level time series (gas, tx count, transfer volume …)."""

    __tablename__ = "chain_metrics"
    __table_args__ = (
        UniqueConstraint("source", "chain_id", "kind", "ts"),
        Index("ix_chain_metrics_lookup", "chain_id", "kind", "ts"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    chain_id: Mapped[str] = mapped_column(ForeignKey("chains.id"))
    kind: Mapped[str] = mapped_column(String(40))
    ts: Mapped[datetime]
    value: Mapped[Decimal]


class Block(Base):
    """A block header plus its fee summary. Reorg-safe key: (chain, hash)."""

    __tablename__ = "blocks"
    __table_args__ = (
        UniqueConstraint("chain_id", "hash"),
        Index("ix_blocks_number", "chain_id", "number"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    chain_id: Mapped[str] = mapped_column(ForeignKey("chains.id"))
    number: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(80))
    parent_hash: Mapped[str] = mapped_column(String(80))
    timestamp: Mapped[datetime]
    gas_used: Mapped[Decimal] = mapped_column(Uint256)
    gas_limit: Mapped[Decimal] = mapped_column(Uint256)
    base_fee_per_gas: Mapped[Decimal | None] = mapped_column(Uint256, nullable=True)
    tx_count: Mapped[int] = mapped_column(Integer)
    priority_fee_p10: Mapped[Decimal | None] = mapped_column(Uint256, nullable=True)
    priority_fee_p50: Mapped[Decimal | None] = mapped_column(Uint256, nullable=True)
    priority_fee_p90: Mapped[Decimal | None] = mapped_column(Uint256, nullable=True)
    canonical: Mapped[bool] = mapped_column(Boolean, default=True)


class Erc20Transfer(Base):
    """An ERC-20 ``Transfer`` log. Reorg-safe key: (chain, block_hash, log_index)."""

    __tablename__ = "erc20_transfers"
    __table_args__ = (
        UniqueConstraint("chain_id", "block_hash", "log_index"),
        Index("ix_transfers_token_time", "contract_address", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    chain_id: Mapped[str] = mapped_column(ForeignKey("chains.id"))
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(80))
    tx_hash: Mapped[str] = mapped_column(String(80))
    log_index: Mapped[int] = mapped_column(Integer)
    contract_address: Mapped[str] = mapped_column(String(80))
    from_address: Mapped[str] = mapped_column(String(80))
    to_address: Mapped[str] = mapped_column(String(80))
    value: Mapped[Decimal] = mapped_column(Uint256)
    timestamp: Mapped[datetime]


class SourceCursor(Base):
    """Where an ingest stream stopped; committed in the same transaction as its rows."""

    __tablename__ = "source_cursors"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    stream: Mapped[str] = mapped_column(String(200), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


# --- API keys (owner: app/auth; docs/keys.md) --------------------------------


class ApiKey(Base):
    """An API key. Only a keyed hash of its secret is stored, never the secret.

    ``id`` is the public part of the key (``cq_live_<id>_…``): it is safe to
    show and to log. ``secret_hash`` is HMAC-SHA-256 of the secret under the
    server's ``key_hmac_secret`` (whose short fingerprint is kept in
    ``hmac_fingerprint`` so a changed server secret is detected, not guessed
    at). After a rotation the previous hash stays valid until
    ``previous_valid_until`` (the overlap window).
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(8))  # live | test (the key's type prefix)
    tier: Mapped[str] = mapped_column(String(40))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    ip_allowlist: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    previous_valid_until: Mapped[datetime | None] = mapped_column(nullable=True)
    hmac_fingerprint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    rotated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ApiKeyAuditEvent(Base):
    """Append-only audit log of key issuance, rotation, revocation and auth failures.

    ``key_id`` has no foreign key on purpose: failures are recorded for ids
    that do not exist. The table is append-only at the database level too
    (triggers in migration 0002 refuse UPDATE and DELETE). Never holds a secret.
    """

    __tablename__ = "api_key_audit_events"
    __table_args__ = (Index("ix_api_key_audit_key_at", "key_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(32))  # issued|rotated|revoked|auth_failed
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
