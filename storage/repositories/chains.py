"""Chain reads: chains, token contracts, blocks and chain metric series.

"Newest block at an instant" is an index walk (``ix_blocks_number``,
newest first, stop at the first match) rather than a window over the chain's
whole history; several chains are served in one statement by a correlated
``LIMIT 1`` subquery or a ``UNION ALL`` of per-chain limited selects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Block, Chain, ChainMetric, TokenContract
from storage.records import BlockRecord, ChainMetricRecord, ChainRecord, ContractRecord
from storage.repositories.latest import PerDialect, latest_by_key_scan
from storage.types import UTCDateTime

_BLOCK_COLUMNS = (
    Block.source,
    Block.chain_id,
    Block.number,
    Block.hash,
    Block.parent_hash,
    Block.timestamp,
    Block.gas_used,
    Block.gas_limit,
    Block.base_fee_per_gas,
    Block.tx_count,
    Block.priority_fee_p10,
    Block.priority_fee_p50,
    Block.priority_fee_p90,
    Block.canonical,
)
_METRIC_COLUMNS = (
    ChainMetric.source,
    ChainMetric.chain_id,
    ChainMetric.kind,
    ChainMetric.ts,
    ChainMetric.value,
)


def _block(row: Any) -> BlockRecord:
    return BlockRecord(*row)


def _chain(row: Chain) -> ChainRecord:
    return ChainRecord(
        id=row.id,
        name=row.name,
        caip2=row.caip2,
        evm_chain_id=row.evm_chain_id,
        native_asset_id=row.native_asset_id,
    )


async def all_chains(session: AsyncSession) -> list[ChainRecord]:
    rows = (await session.execute(select(Chain).order_by(Chain.id))).scalars().all()
    return [_chain(r) for r in rows]


async def chains_by_ids(session: AsyncSession, ids: Sequence[str]) -> dict[str, ChainRecord]:
    """Chains by slug or by CAIP-2 id; the result is keyed by whichever was asked."""
    stmt = select(Chain).where(or_(Chain.id.in_(ids), Chain.caip2.in_(ids)))
    out: dict[str, ChainRecord] = {}
    for row in (await session.execute(stmt)).scalars().all():
        rec = _chain(row)
        out[rec.id] = rec
        out[rec.caip2] = rec
    return out


async def contracts_by_asset_ids(
    session: AsyncSession, asset_ids: Sequence[int]
) -> dict[int, list[ContractRecord]]:
    stmt = (
        select(
            TokenContract.asset_id,
            TokenContract.chain_id,
            TokenContract.address,
            TokenContract.decimals,
        )
        .where(TokenContract.asset_id.in_(asset_ids))
        .order_by(TokenContract.asset_id, TokenContract.chain_id, TokenContract.address)
    )
    out: dict[int, list[ContractRecord]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        rec = ContractRecord(*row)
        out[rec.asset_id].append(rec)
    return out


async def head_blocks(
    session: AsyncSession, chain_ids: Sequence[str], *, at: datetime
) -> dict[str, BlockRecord]:
    """Per chain, the highest canonical block with ``timestamp <= at``."""
    b2 = aliased(Block)
    newest = (
        select(b2.id)
        .where(b2.chain_id == Chain.id, b2.canonical.is_(True), b2.timestamp <= at)
        .order_by(b2.number.desc())
        .limit(1)
        .scalar_subquery()
    )
    ids = select(newest).where(Chain.id.in_(chain_ids))
    stmt = select(*_BLOCK_COLUMNS).where(Block.id.in_(ids))
    out: dict[str, BlockRecord] = {}
    for row in (await session.execute(stmt)).all():
        rec = _block(row)
        out[rec.chain_id] = rec
    return out


async def blocks_before(
    session: AsyncSession,
    pages: Sequence[tuple[str, int | None]],
    *,
    at: datetime,
    limit: int,
) -> dict[tuple[str, int | None], list[BlockRecord]]:
    """Canonical blocks newest first, up to ``limit`` per (chain, number cursor) page."""
    selects = []
    for chain_id, before in pages:
        cond = [Block.chain_id == chain_id, Block.canonical.is_(True), Block.timestamp <= at]
        if before is not None:
            cond.append(Block.number < before)
        inner = (
            select(*_BLOCK_COLUMNS).where(*cond).order_by(Block.number.desc()).limit(limit)
        ).subquery()
        selects.append(select(*inner.c))
    if not selects:
        return {}
    rows = (await session.execute(union_all(*selects))).all()
    out: dict[tuple[str, int | None], list[BlockRecord]] = {p: [] for p in pages}
    for row in rows:
        rec = _block(row)
        for chain_id, before in pages:
            if rec.chain_id == chain_id and (before is None or rec.number < before):
                out[(chain_id, before)].append(rec)
    for recs in out.values():
        recs.sort(key=lambda r: r.number, reverse=True)
        del recs[limit:]
    return out


async def blocks_by_hashes(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], BlockRecord]:
    wanted_pairs = sorted(set(keys))
    stmt = select(*_BLOCK_COLUMNS).where(
        or_(*(and_(Block.chain_id == c, Block.hash == h) for c, h in wanted_pairs))
    )
    wanted = set(keys)
    out: dict[tuple[str, str], BlockRecord] = {}
    for row in (await session.execute(stmt)).all():
        rec = _block(row)
        if (rec.chain_id, rec.hash) in wanted:
            out[(rec.chain_id, rec.hash)] = rec
    return out


# Built once with bind parameters (see storage.repositories.latest).
_LATEST_METRICS = PerDialect(
    lambda id_in: (
        select(*_METRIC_COLUMNS)
        .where(
            id_in(
                ChainMetric.id,
                latest_by_key_scan(
                    ChainMetric.__table__,
                    anchors=select(Chain.id).where(
                        Chain.id.in_(bindparam("chain_ids", expanding=True))
                    ),
                    key="chain_id",
                    scan="kind",
                    time="ts",
                    at=bindparam("at", type_=UTCDateTime()),
                    since=bindparam("since", type_=UTCDateTime()),
                ),
            )
        )
        .order_by(ChainMetric.chain_id, ChainMetric.kind)
    )
)


async def latest_metrics(
    session: AsyncSession, chain_ids: Sequence[str], *, at: datetime, since: datetime
) -> dict[str, list[ChainMetricRecord]]:
    """Per chain, the latest point of every metric kind with ``since < ts <= at``.

    Kinds are enumerated per chain and each newest point is one seek on
    ``ix_chain_metrics_lookup`` (metrics arrive with every block).
    """
    params = {"chain_ids": list(chain_ids), "at": at, "since": since}
    out: dict[str, list[ChainMetricRecord]] = defaultdict(list)
    for row in await _LATEST_METRICS.rows(session, params):
        rec = ChainMetricRecord(*row)
        out[rec.chain_id].append(rec)
    return out


async def metric_series(
    session: AsyncSession,
    series: Sequence[tuple[str, str]],
    *,
    start: datetime | None,
    end: datetime,
    limit: int,
) -> dict[tuple[str, str], list[ChainMetricRecord]]:
    """The newest ``limit`` points per (chain, kind) with ``start <= ts <= end``, oldest first."""
    selects: list[Any] = []
    for chain_id, kind in series:
        cond = [ChainMetric.chain_id == chain_id, ChainMetric.kind == kind, ChainMetric.ts <= end]
        if start is not None:
            cond.append(ChainMetric.ts >= start)
        inner = (
            select(*_METRIC_COLUMNS)
            .where(*cond)
            .order_by(ChainMetric.ts.desc(), ChainMetric.source)
            .limit(limit)
        ).subquery()
        selects.append(select(*inner.c))
    if not selects:
        return {}
    out: dict[tuple[str, str], list[ChainMetricRecord]] = {s: [] for s in series}
    for row in (await session.execute(union_all(*selects))).all():
        rec = ChainMetricRecord(*row)
        out[(rec.chain_id, rec.kind)].append(rec)
    for recs in out.values():
        recs.sort(key=lambda r: (r.ts, r.source))
    return out
