"""Signal reads: the latest value of each kind per asset at an instant.

Kinds are enumerated per asset and each kind's newest value is one index
seek on ``ix_signals_lookup`` (``storage.repositories.latest``): the signals
engine writes every kind on every candle close, so ranking the rows of a
window would cost more the more often it runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Asset, SignalValue
from storage.records import SignalRecord
from storage.repositories.latest import PerDialect, latest_by_key_scan
from storage.types import UTCDateTime

_COLUMNS = (
    SignalValue.source,
    SignalValue.asset_id,
    SignalValue.kind,
    SignalValue.value,
    SignalValue.direction,
    SignalValue.horizon,
    SignalValue.computed_at,
    SignalValue.details,
)


# Built once with bind parameters: building the recursive CTE costs more than running it.
_LATEST = PerDialect(
    lambda id_in: (
        select(*_COLUMNS)
        .where(
            id_in(
                SignalValue.id,
                latest_by_key_scan(
                    SignalValue.__table__,
                    anchors=select(Asset.id).where(
                        Asset.id.in_(bindparam("asset_ids", expanding=True))
                    ),
                    key="asset_id",
                    scan="kind",
                    time="computed_at",
                    at=bindparam("at", type_=UTCDateTime()),
                    since=bindparam("since", type_=UTCDateTime()),
                ),
            )
        )
        .order_by(SignalValue.asset_id, SignalValue.kind)
    )
)


async def latest_signals(
    session: AsyncSession, asset_ids: Sequence[int], *, at: datetime, since: datetime
) -> dict[int, list[SignalRecord]]:
    """Per asset, the latest value of every kind computed in ``(since, at]`` (any source)."""
    params = {"asset_ids": list(asset_ids), "at": at, "since": since}
    out: dict[int, list[SignalRecord]] = defaultdict(list)
    for row in await _LATEST.rows(session, params):
        rec = SignalRecord(*row)
        out[rec.asset_id].append(rec)
    return out
