"""On-chain writes (blocks, ERC-20 transfers, chain metrics, on-chain signals) and the
few reads the Ethereum ingest pump needs to decide what to write.

Every write is an idempotent ``INSERT … ON CONFLICT`` keyed by the table's
natural key, on SQLite and PostgreSQL alike:

- ``blocks`` by ``(chain_id, hash)``: a block's content never changes, only
  whether it is on the canonical chain. Storing a block marks every *other*
  stored block at the same height non-canonical (:func:`upsert_blocks`
  returns them so the caller can drop what hung off them);
- ``erc20_transfers`` by ``(chain_id, block_hash, log_index)``: immutable facts
  of one block; ``DO NOTHING`` on conflict;
- ``chain_metrics`` by ``(source, chain_id, kind, ts)``: recomputing a point
  overwrites it.

Signal values and source cursors are written through
:mod:`storage.repositories.ingest` (``upsert_signals``, ``get_cursor`` /
``set_cursor``), which every ingest pump shares. Nothing here commits: the
caller owns the unit of work, so rows and the ingest cursor land in one
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Float, and_, cast, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.models import Asset, Block, Chain, ChainMetric, Erc20Transfer, TokenContract
from storage.records import ChainMetricRecord, TransferRecord, row_values
from storage.repositories.ingest import insert_for

#: Rows per INSERT statement (keeps bind parameters far below SQLite/asyncpg limits).
CHUNK = 500


@dataclass(frozen=True, slots=True)
class BlockRow:
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


@dataclass(frozen=True, slots=True)
class StoredBlock:
    number: int
    hash: str
    timestamp: datetime


def _chunks(rows: Sequence[Any]) -> list[Sequence[Any]]:
    return [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]


# --------------------------------------------------------------------------- chain


async def ensure_chain(
    session: AsyncSession, *, chain_id: str, name: str, caip2: str, evm_chain_id: int
) -> None:
    """Create the chain row if it is missing (an existing row is left as curated)."""
    stmt = insert_for(session, Chain).values(
        id=chain_id, name=name, caip2=caip2, evm_chain_id=evm_chain_id
    )
    await session.execute(stmt.on_conflict_do_nothing())


# --------------------------------------------------------------------------- blocks


async def canonical_hashes(
    session: AsyncSession, chain_id: str, numbers: Sequence[int]
) -> dict[int, str]:
    if not numbers:
        return {}
    stmt = select(Block.number, Block.hash).where(
        Block.chain_id == chain_id, Block.canonical.is_(True), Block.number.in_(list(numbers))
    )
    return {int(n): str(h) for n, h in (await session.execute(stmt)).all()}


async def upsert_blocks(session: AsyncSession, rows: Sequence[BlockRow]) -> list[StoredBlock]:
    """Store blocks as canonical; returns the stored blocks they displaced (now non-canonical)."""
    if not rows:
        return []
    chain_id = rows[0].chain_id
    for chunk in _chunks(rows):
        stmt = insert_for(session, Block).values(
            [{**row_values(r), "canonical": True} for r in chunk]
        )
        ex = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["chain_id", "hash"],
            set_={
                "canonical": True,
                "source": ex.source,
                "tx_count": ex.tx_count,
                "priority_fee_p10": ex.priority_fee_p10,
                "priority_fee_p50": ex.priority_fee_p50,
                "priority_fee_p90": ex.priority_fee_p90,
            },
        )
        await session.execute(stmt)
    displaced = and_(
        Block.chain_id == chain_id,
        Block.canonical.is_(True),
        Block.number.in_([r.number for r in rows]),
        Block.hash.not_in([r.hash for r in rows]),
    )
    return await _decanonicalise(session, chain_id, displaced)


async def orphan_blocks_above(
    session: AsyncSession, chain_id: str, number: int
) -> list[StoredBlock]:
    """Mark every canonical block above ``number`` non-canonical (a reorg's rollback)."""
    cond = and_(Block.chain_id == chain_id, Block.canonical.is_(True), Block.number > number)
    return await _decanonicalise(session, chain_id, cond)


async def _decanonicalise(
    session: AsyncSession, chain_id: str, cond: ColumnElement[bool]
) -> list[StoredBlock]:
    stmt = select(Block.number, Block.hash, Block.timestamp).where(cond)
    found = (await session.execute(stmt)).all()
    if found:
        await session.execute(
            update(Block)
            .where(Block.chain_id == chain_id, Block.hash.in_([h for _, h, _ in found]))
            .values(canonical=False)
        )
    return [StoredBlock(n, h, ts) for n, h, ts in found]


async def latest_canonical_fees(
    session: AsyncSession, chain_id: str, at_or_below: int, limit: int
) -> list[tuple[int, Decimal]]:
    """``(number, base fee)`` of the last ``limit`` canonical blocks up to ``at_or_below``.

    Oldest first.
    """
    stmt = (
        select(Block.number, Block.base_fee_per_gas)
        .where(
            Block.chain_id == chain_id,
            Block.canonical.is_(True),
            Block.number <= at_or_below,
            Block.base_fee_per_gas.is_not(None),
        )
        .order_by(Block.number.desc())
        .limit(limit)
    )
    rows = (await session.execute(stmt)).all()
    return [(n, fee) for n, fee in reversed(rows) if fee is not None]


# --------------------------------------------------------------------------- transfers


async def insert_transfers(session: AsyncSession, rows: Sequence[TransferRecord]) -> None:
    for chunk in _chunks(rows):
        stmt = insert_for(session, Erc20Transfer).values([row_values(r) for r in chunk])
        await session.execute(stmt.on_conflict_do_nothing())


async def delete_transfers_of_blocks(
    session: AsyncSession, chain_id: str, block_hashes: Sequence[str]
) -> None:
    if block_hashes:
        await session.execute(
            delete(Erc20Transfer).where(
                Erc20Transfer.chain_id == chain_id,
                Erc20Transfer.block_hash.in_(list(block_hashes)),
            )
        )


def _epoch_bucket(session: AsyncSession, bucket_seconds: int) -> ColumnElement[int]:
    ts = Erc20Transfer.timestamp
    if session.get_bind().dialect.name == "postgresql":
        seconds = cast(func.floor(func.extract("epoch", ts)), BigInteger)
    else:
        # SQLite stores the UTC instant as text; strftime('%s') reads it back as Unix seconds.
        seconds = cast(func.strftime("%s", ts), BigInteger)
    return seconds // bucket_seconds


async def transfer_volume_buckets(
    session: AsyncSession,
    chain_id: str,
    contract: str,
    start: datetime,
    end: datetime,
    bucket_seconds: int,
) -> dict[int, float]:
    """Raw-unit transfer volume of ``contract`` per ``bucket_seconds`` bucket in ``[start, end)``.

    Keys are bucket numbers (``unix_seconds // bucket_seconds``). Sums are
    floats: they feed statistics, never balances.
    """
    bucket = _epoch_bucket(session, bucket_seconds).label("bucket")
    stmt = (
        select(bucket, func.sum(cast(Erc20Transfer.value, Float)))
        .where(
            Erc20Transfer.chain_id == chain_id,
            Erc20Transfer.contract_address == contract,
            Erc20Transfer.timestamp >= start,
            Erc20Transfer.timestamp < end,
        )
        .group_by(bucket)
    )
    return {int(b): float(v or 0.0) for b, v in (await session.execute(stmt)).all()}


# --------------------------------------------------------------------------- metrics


async def upsert_chain_metrics(session: AsyncSession, rows: Sequence[ChainMetricRecord]) -> None:
    for chunk in _chunks(rows):
        stmt = insert_for(session, ChainMetric).values([row_values(r) for r in chunk])
        stmt = stmt.on_conflict_do_update(
            index_elements=["source", "chain_id", "kind", "ts"], set_={"value": stmt.excluded.value}
        )
        await session.execute(stmt)


async def delete_chain_metrics(
    session: AsyncSession, source: str, chain_id: str, kinds: Sequence[str], ts: Sequence[datetime]
) -> None:
    if ts:
        await session.execute(
            delete(ChainMetric).where(
                ChainMetric.source == source,
                ChainMetric.chain_id == chain_id,
                ChainMetric.kind.in_(list(kinds)),
                ChainMetric.ts.in_(list(ts)),
            )
        )


async def token_assets(session: AsyncSession, chain_id: str) -> dict[str, int]:
    """Lower-case contract address → asset id for the chain's registered tokens."""
    stmt = select(TokenContract.address, TokenContract.asset_id).where(
        TokenContract.chain_id == chain_id
    )
    return {a.lower(): i for a, i in (await session.execute(stmt)).all()}


async def native_asset_id(session: AsyncSession, chain_id: str) -> int | None:
    """The chain's native asset: ``chains.native_asset_id``, else an asset naming the chain."""
    chain_native = (
        await session.execute(select(Chain.native_asset_id).where(Chain.id == chain_id))
    ).scalar_one_or_none()
    if chain_native is not None:
        return chain_native
    stmt = select(Asset.id).where(Asset.native_chain_id == chain_id).order_by(Asset.id).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


__all__ = [
    "BlockRow",
    "StoredBlock",
    "canonical_hashes",
    "delete_chain_metrics",
    "delete_transfers_of_blocks",
    "ensure_chain",
    "insert_transfers",
    "latest_canonical_fees",
    "native_asset_id",
    "orphan_blocks_above",
    "token_assets",
    "transfer_volume_buckets",
    "upsert_blocks",
    "upsert_chain_metrics",
]
