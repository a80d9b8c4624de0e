"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 20:28:57.289136
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "assets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("canonical_id", sa.String(length=200), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("native_chain_id", sa.String(length=60), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("canonical_id", name=op.f("uq_assets_canonical_id")),
    )
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assets_symbol"), ["symbol"], unique=False)

    op.create_table(
        "source_cursors",
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("stream", sa.String(length=200), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "stream", name=op.f("pk_source_cursors")),
    )
    op.create_table(
        "asset_aliases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_aliases_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_aliases")),
        sa.UniqueConstraint(
            "source", "external_id", name=op.f("uq_asset_aliases_source_external_id")
        ),
    )
    with op.batch_alter_table("asset_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_asset_aliases_asset_id"), ["asset_id"], unique=False)

    op.create_table(
        "asset_categories",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_categories_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("asset_id", "category", name=op.f("pk_asset_categories")),
    )
    with op.batch_alter_table("asset_categories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_asset_categories_category"), ["category"], unique=False
        )

    op.create_table(
        "candles",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("quote_currency", sa.String(length=20), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("open_time", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("open", storage.types.ExactDecimal(), nullable=False),
        sa.Column("high", storage.types.ExactDecimal(), nullable=False),
        sa.Column("low", storage.types.ExactDecimal(), nullable=False),
        sa.Column("close", storage.types.ExactDecimal(), nullable=False),
        sa.Column("volume", storage.types.ExactDecimal(), nullable=True),
        sa.Column("is_complete", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_candles_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candles")),
        sa.UniqueConstraint(
            "source",
            "asset_id",
            "quote_currency",
            "interval",
            "open_time",
            name=op.f("uq_candles_source_asset_id_quote_currency_interval_open_time"),
        ),
    )
    with op.batch_alter_table("candles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_candles_lookup", ["asset_id", "interval", "open_time"], unique=False
        )

    op.create_table(
        "chains",
        sa.Column("id", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("caip2", sa.String(length=80), nullable=False),
        sa.Column("evm_chain_id", sa.BigInteger(), nullable=True),
        sa.Column("native_asset_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["native_asset_id"], ["assets.id"], name=op.f("fk_chains_native_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chains")),
        sa.UniqueConstraint("caip2", name=op.f("uq_chains_caip2")),
    )
    op.create_table(
        "markets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("symbol", sa.String(length=60), nullable=False),
        sa.Column("base_asset_id", sa.Integer(), nullable=False),
        sa.Column("quote_currency", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["base_asset_id"], ["assets.id"], name=op.f("fk_markets_base_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_markets")),
        sa.UniqueConstraint("source", "symbol", name=op.f("uq_markets_source_symbol")),
    )
    with op.batch_alter_table("markets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_markets_base_asset_id"), ["base_asset_id"], unique=False
        )

    op.create_table(
        "quotes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("quote_currency", sa.String(length=20), nullable=False),
        sa.Column("price", storage.types.ExactDecimal(), nullable=False),
        sa.Column("volume_24h", storage.types.ExactDecimal(), nullable=True),
        sa.Column("market_cap", storage.types.ExactDecimal(), nullable=True),
        sa.Column("change_1h", storage.types.ExactDecimal(), nullable=True),
        sa.Column("change_24h", storage.types.ExactDecimal(), nullable=True),
        sa.Column("change_7d", storage.types.ExactDecimal(), nullable=True),
        sa.Column("circulating_supply", storage.types.ExactDecimal(), nullable=True),
        sa.Column("total_supply", storage.types.ExactDecimal(), nullable=True),
        sa.Column("max_supply", storage.types.ExactDecimal(), nullable=True),
        sa.Column("observed_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_quotes_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
        sa.UniqueConstraint(
            "source",
            "asset_id",
            "quote_currency",
            "observed_at",
            name=op.f("uq_quotes_source_asset_id_quote_currency_observed_at"),
        ),
    )
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quotes_lookup", ["asset_id", "quote_currency", "observed_at"], unique=False
        )

    op.create_table(
        "signal_values",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("value", storage.types.ExactDecimal(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("horizon", sa.String(length=10), nullable=False),
        sa.Column("computed_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_signal_values_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_values")),
        sa.UniqueConstraint(
            "source",
            "asset_id",
            "kind",
            "computed_at",
            name=op.f("uq_signal_values_source_asset_id_kind_computed_at"),
        ),
    )
    with op.batch_alter_table("signal_values", schema=None) as batch_op:
        batch_op.create_index(
            "ix_signals_lookup", ["asset_id", "kind", "computed_at"], unique=False
        )

    op.create_table(
        "blocks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("chain_id", sa.String(length=60), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("parent_hash", sa.String(length=80), nullable=False),
        sa.Column("timestamp", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("gas_used", storage.types.ExactDecimal(), nullable=False),
        sa.Column("gas_limit", storage.types.ExactDecimal(), nullable=False),
        sa.Column("base_fee_per_gas", storage.types.ExactDecimal(), nullable=True),
        sa.Column("tx_count", sa.Integer(), nullable=False),
        sa.Column("priority_fee_p10", storage.types.ExactDecimal(), nullable=True),
        sa.Column("priority_fee_p50", storage.types.ExactDecimal(), nullable=True),
        sa.Column("priority_fee_p90", storage.types.ExactDecimal(), nullable=True),
        sa.Column("canonical", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id"], ["chains.id"], name=op.f("fk_blocks_chain_id_chains")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocks")),
        sa.UniqueConstraint("chain_id", "hash", name=op.f("uq_blocks_chain_id_hash")),
    )
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.create_index("ix_blocks_number", ["chain_id", "number"], unique=False)

    op.create_table(
        "chain_metrics",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("chain_id", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ts", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("value", storage.types.ExactDecimal(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id"], ["chains.id"], name=op.f("fk_chain_metrics_chain_id_chains")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_metrics")),
        sa.UniqueConstraint(
            "source",
            "chain_id",
            "kind",
            "ts",
            name=op.f("uq_chain_metrics_source_chain_id_kind_ts"),
        ),
    )
    with op.batch_alter_table("chain_metrics", schema=None) as batch_op:
        batch_op.create_index("ix_chain_metrics_lookup", ["chain_id", "kind", "ts"], unique=False)

    op.create_table(
        "erc20_transfers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("chain_id", sa.String(length=60), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=80), nullable=False),
        sa.Column("tx_hash", sa.String(length=80), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("contract_address", sa.String(length=80), nullable=False),
        sa.Column("from_address", sa.String(length=80), nullable=False),
        sa.Column("to_address", sa.String(length=80), nullable=False),
        sa.Column("value", storage.types.ExactDecimal(), nullable=False),
        sa.Column("timestamp", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id"], ["chains.id"], name=op.f("fk_erc20_transfers_chain_id_chains")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erc20_transfers")),
        sa.UniqueConstraint(
            "chain_id",
            "block_hash",
            "log_index",
            name=op.f("uq_erc20_transfers_chain_id_block_hash_log_index"),
        ),
    )
    with op.batch_alter_table("erc20_transfers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transfers_token_time", ["contract_address", "timestamp"], unique=False
        )

    op.create_table(
        "token_contracts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.String(length=60), nullable=False),
        sa.Column("address", sa.String(length=80), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_token_contracts_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["chain_id"], ["chains.id"], name=op.f("fk_token_contracts_chain_id_chains")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_contracts")),
        sa.UniqueConstraint(
            "chain_id", "address", name=op.f("uq_token_contracts_chain_id_address")
        ),
    )
    with op.batch_alter_table("token_contracts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_token_contracts_asset_id"), ["asset_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("token_contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_token_contracts_asset_id"))

    op.drop_table("token_contracts")
    with op.batch_alter_table("erc20_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_transfers_token_time")

    op.drop_table("erc20_transfers")
    with op.batch_alter_table("chain_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_chain_metrics_lookup")

    op.drop_table("chain_metrics")
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.drop_index("ix_blocks_number")

    op.drop_table("blocks")
    with op.batch_alter_table("signal_values", schema=None) as batch_op:
        batch_op.drop_index("ix_signals_lookup")

    op.drop_table("signal_values")
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.drop_index("ix_quotes_lookup")

    op.drop_table("quotes")
    with op.batch_alter_table("markets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_markets_base_asset_id"))

    op.drop_table("markets")
    op.drop_table("chains")
    with op.batch_alter_table("candles", schema=None) as batch_op:
        batch_op.drop_index("ix_candles_lookup")

    op.drop_table("candles")
    with op.batch_alter_table("asset_categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_categories_category"))

    op.drop_table("asset_categories")
    with op.batch_alter_table("asset_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_aliases_asset_id"))

    op.drop_table("asset_aliases")
    op.drop_table("source_cursors")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assets_symbol"))

    op.drop_table("assets")
