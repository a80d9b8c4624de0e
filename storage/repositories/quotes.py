"""Quote reads: the latest observation per (asset, source, quote currency) at an instant.

Each group's newest row at or before ``at`` (and after ``since``, the
look-back) is found by index seeks (``storage.repositories.latest``), so the
cost does not grow with how often sources are polled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Asset, Quote
from storage.records import QuoteRecord
from storage.repositories.decode import as_text, dec, dec_required
from storage.repositories.latest import PerDialect, latest_quote_ids
from storage.types import UTCDateTime

# Money as exact text (storage.repositories.decode), decoded in _record.
_COLUMNS = (
    Quote.source,
    Quote.asset_id,
    Quote.quote_currency,
    as_text(Quote.price),
    as_text(Quote.volume_24h),
    as_text(Quote.market_cap),
    as_text(Quote.change_1h),
    as_text(Quote.change_24h),
    as_text(Quote.change_7d),
    as_text(Quote.circulating_supply),
    as_text(Quote.total_supply),
    as_text(Quote.max_supply),
    Quote.observed_at,
)


_AT = bindparam("at", type_=UTCDateTime())
_SINCE = bindparam("since", type_=UTCDateTime())

# Built once with bind parameters: building the recursive CTE costs more than running it.
_BY_ASSET = PerDialect(
    lambda id_in: (
        select(*_COLUMNS)
        .where(
            id_in(
                Quote.id,
                latest_quote_ids(
                    Asset.id.in_(bindparam("asset_ids", expanding=True)), at=_AT, since=_SINCE
                ),
            )
        )
        .order_by(Quote.asset_id, Quote.source)
    )
)
_BY_CANONICAL_ID = PerDialect(
    lambda id_in: (
        select(Asset.canonical_id, *_COLUMNS)
        .join(Asset, Asset.id == Quote.asset_id)
        .where(
            id_in(
                Quote.id,
                latest_quote_ids(
                    Asset.canonical_id.in_(bindparam("canonical_ids", expanding=True)),
                    at=_AT,
                    since=_SINCE,
                ),
            ),
            Quote.quote_currency == bindparam("currency"),
        )
        .order_by(Quote.source)
    )
)


def _record(row: Any) -> QuoteRecord:
    src, aid, cur, price, vol, cap, ch1, ch24, ch7, circ, total, most, observed_at = row
    return QuoteRecord(
        src,
        aid,
        cur,
        dec_required(price),
        dec(vol),
        dec(cap),
        dec(ch1),
        dec(ch24),
        dec(ch7),
        dec(circ),
        dec(total),
        dec(most),
        observed_at,
    )


async def latest_quotes(
    session: AsyncSession, asset_ids: Sequence[int], *, at: datetime, since: datetime
) -> dict[int, list[QuoteRecord]]:
    """Per asset, each source's latest quote (every currency) observed in ``(since, at]``."""
    params = {"asset_ids": list(asset_ids), "at": at, "since": since}
    out: dict[int, list[QuoteRecord]] = defaultdict(list)
    for row in await _BY_ASSET.rows(session, params):
        rec = _record(row)
        out[rec.asset_id].append(rec)
    return out


async def latest_quotes_by_canonical_id(
    session: AsyncSession,
    canonical_ids: Sequence[str],
    *,
    currency: str,
    at: datetime,
    since: datetime,
) -> dict[str, list[QuoteRecord]]:
    """Per canonical id, each source's latest quote in ``currency`` observed in ``(since, at]``.

    Used for conversion rates (tether's USD price is the USDT→USD rate), so the
    asset lookup by canonical id happens inside the same statement.
    """
    params = {
        "canonical_ids": list(canonical_ids),
        "currency": currency,
        "at": at,
        "since": since,
    }
    out: dict[str, list[QuoteRecord]] = defaultdict(list)
    for row in await _BY_CANONICAL_ID.rows(session, params):
        out[row[0]].append(_record(row[1:]))
    return out
