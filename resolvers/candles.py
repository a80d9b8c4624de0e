"""Candle resolvers: any interval 1m…1M, aggregated on read from stored finer candles.

The window is a run of bucket *slots* ending with the bucket that contains
``to`` (default: the instant): ``last: 24`` with ``1h`` means the 24 hourly
slots up to now, so gaps show as missing buckets rather than reaching
further back. ``from`` keeps only buckets opening at or after it. ``to`` later
than the instant is read as the instant (nothing after it is known).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from loaders.candles import CandleKey, CandleWindow, StoredCandles
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.instant import Instant, require_aware
from resolvers.intervals import (
    Bucket,
    UnknownInterval,
    aggregate,
    close_time,
    count_between,
    floor,
    parse_interval,
    pick_source,
    shift,
    source_candidates,
    usable,
)
from resolvers.prices import normalise_quote

DEFAULT_LAST = 100
MAX_CANDLES = 1000


def candle_window(
    instant: Instant,
    *,
    interval: str,
    quote: str,
    from_: datetime | None,
    to: datetime | None,
    last: int | None,
) -> CandleWindow | None:
    """Validate the arguments; ``None`` when the window holds no bucket."""
    try:
        iv = parse_interval(interval)
    except UnknownInterval as exc:
        raise BadUserInput(str(exc), extensions={"argument": "interval"}) from None
    if last is not None and not 1 <= last <= MAX_CANDLES:
        raise BadUserInput(
            f"last must be between 1 and {MAX_CANDLES} (got {last})",
            extensions={"argument": "last", "maximum": MAX_CANDLES},
        )
    end = instant.at if to is None else min(require_aware("to", to), instant.at)
    start = None if from_ is None else require_aware("from", from_)
    if start is not None and start > end:
        raise BadUserInput("from must not be later than to", extensions={"argument": "from"})
    last_open = floor(iv, end)
    if last is None and start is None:
        last = DEFAULT_LAST
    first_open = shift(iv, last_open, -(last - 1)) if last is not None else last_open
    if start is not None:
        aligned = floor(iv, start)
        from_open = aligned if aligned == start else shift(iv, aligned, 1)
        first_open = max(first_open, from_open) if last is not None else from_open
    count = count_between(iv, first_open, last_open)
    if count > MAX_CANDLES:
        raise BadUserInput(
            f"the range holds {count} {interval} candles; at most {MAX_CANDLES} per request "
            "(narrow from/to, use a coarser interval, or page by moving `to`)",
            extensions={"argument": "from", "maximum": MAX_CANDLES},
        )
    if count == 0:
        return None
    return CandleWindow(
        interval=iv.name,
        candidates=tuple(c.name for c in source_candidates(iv)),
        quote_currency=normalise_quote(quote),
        first=first_open,
        last=last_open,
        fetch_end=close_time(iv, last_open),
        at=instant.at,
        historical=instant.historical,
    )


async def candles(ctx: Context, asset_id: int, window: CandleWindow | None) -> list[Bucket]:
    """Buckets of the window, oldest first, from one source (see ``resolvers.intervals``)."""
    if window is None:
        return []
    return buckets(await ctx.loaders.candles_by_asset.load(CandleKey(asset_id, window)), window)


async def candles_many(
    ctx: Context, windows: Sequence[tuple[int, CandleWindow | None]]
) -> list[list[Bucket] | Exception]:
    """:func:`candles` for many (asset id, window) pairs: one load for all."""
    keys = [CandleKey(asset_id, w) for asset_id, w in windows if w is not None]
    found = iter(await ctx.loaders.candles_by_asset.load_all(keys))
    out: list[list[Bucket] | Exception] = []
    for _asset_id, window in windows:
        if window is None:
            out.append([])
            continue
        stored = next(found)
        out.append(stored if isinstance(stored, Exception) else buckets(stored, window))
    return out


def buckets(stored: StoredCandles, window: CandleWindow) -> list[Bucket]:
    """The window's buckets from the candles stored for it (one source, never mixed)."""
    if stored.interval is None:
        return []
    fine = parse_interval(stored.interval)
    rows = [
        c for c in stored.candles if usable(c, fine, at=window.at, historical=window.historical)
    ]
    source = pick_source(rows)
    return aggregate(
        [c for c in rows if c.source == source],
        parse_interval(window.interval),
        fine,
        first=window.first,
        last=window.last,
        at=window.at,
    )
