"""on-chain uint256 columns: NUMERIC(78, 0) on PostgreSQL (owner: ingest/ethereum)

The models declare token amounts and wei quantities as ``Uint256``
(``ExactDecimal(78, 0)``: a uint256 has up to 78 digits), but 0001 created them
with ExactDecimal's default NUMERIC(40, 18), which overflows above 10^22; an
ERC-20 transfer of 10^30 base units (a trillion 18-decimal tokens) would be
refused by PostgreSQL. SQLite stores ExactDecimal as text and needs nothing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {
    "erc20_transfers": ("value",),
    "blocks": (
        "gas_used",
        "gas_limit",
        "base_fee_per_gas",
        "priority_fee_p10",
        "priority_fee_p50",
        "priority_fee_p90",
    ),
}


def _retype(new: sa.Numeric, old: sa.Numeric) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=new, existing_type=old)


def upgrade() -> None:
    _retype(sa.Numeric(78, 0), sa.Numeric(40, 18))


def downgrade() -> None:
    _retype(sa.Numeric(40, 18), sa.Numeric(78, 0))
