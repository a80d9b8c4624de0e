"""ERC-20 transfer reads: activity statistics and the largest transfers per token.

Volumes are sums of uint256 amounts and must stay exact. PostgreSQL sums
``NUMERIC`` exactly in SQL. SQLite stores these amounts as text and its
``SUM`` would go through a binary float beyond 2**63, so on SQLite the
amounts are streamed and summed as ``Decimal`` here; the statement count is
the same on both backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Erc20Transfer
from storage.records import TransferRecord, TransferStats
from storage.types import sortable

T = Erc20Transfer
_COLUMNS = (
    T.source,
    T.chain_id,
    T.block_number,
    T.block_hash,
    T.tx_hash,
    T.log_index,
    T.contract_address,
    T.from_address,
    T.to_address,
    T.value,
    T.timestamp,
)


def _contracts(contracts: Sequence[tuple[str, str]]) -> Any:
    return or_(*(and_(T.chain_id == c, T.contract_address == a) for c, a in contracts))


async def transfer_stats(
    session: AsyncSession,
    contracts: Sequence[tuple[str, str]],
    *,
    start: datetime,
    end: datetime,
) -> dict[tuple[str, str], TransferStats]:
    """Per (chain, contract): count, exact raw volume and last transfer time in ``[start, end]``."""
    if not contracts:
        return {}
    window = [_contracts(contracts), T.timestamp >= start, T.timestamp <= end]
    acc: dict[tuple[str, str], list[Any]] = {c: [0, Decimal(0), None] for c in contracts}
    if session.get_bind().dialect.name == "postgresql":
        grouped = (
            select(
                T.chain_id,
                T.contract_address,
                func.count(),
                func.sum(T.value),
                func.max(T.timestamp),
            )
            .where(*window)
            .group_by(T.chain_id, T.contract_address)
        )
        for chain_id, address, count, volume, last_at in (await session.execute(grouped)).all():
            acc[(chain_id, address)] = [count, volume or Decimal(0), last_at]
    else:
        raw = select(T.chain_id, T.contract_address, T.value, T.timestamp).where(*window)
        for chain_id, address, value, ts in (await session.execute(raw)).all():
            entry = acc[(chain_id, address)]
            entry[0] += 1
            entry[1] += value
            entry[2] = ts if entry[2] is None or ts > entry[2] else entry[2]
    return {
        key: TransferStats(
            chain_id=key[0],
            contract_address=key[1],
            count=int(count),
            volume=Decimal(volume),
            last_at=last_at,
        )
        for key, (count, volume, last_at) in acc.items()
    }


async def largest_transfers(
    session: AsyncSession,
    contracts: Sequence[tuple[str, str]],
    *,
    start: datetime,
    end: datetime,
    limit: int,
) -> dict[tuple[str, str], list[TransferRecord]]:
    """Per (chain, contract): the ``limit`` largest transfers in ``[start, end]``, largest first."""
    if not contracts:
        return {}
    rn = func.row_number().over(
        partition_by=(T.chain_id, T.contract_address),
        order_by=(sortable(T.__table__.c.value).desc(), T.timestamp.desc(), T.log_index),
    )
    inner = (
        select(*_COLUMNS, rn.label("rn"))
        .where(_contracts(contracts), T.timestamp >= start, T.timestamp <= end)
        .subquery()
    )
    cols = [inner.c[c.key] for c in _COLUMNS]
    stmt = select(*cols).where(inner.c.rn <= limit).order_by(inner.c.rn)
    out: dict[tuple[str, str], list[TransferRecord]] = {c: [] for c in contracts}
    for row in (await session.execute(stmt)).all():
        rec = TransferRecord(*row)
        out[(rec.chain_id, rec.contract_address)].append(rec)
    return out
