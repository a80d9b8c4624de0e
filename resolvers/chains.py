"""Chain resolvers: chains, head block, block pages and metric series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from loaders.chains import ALL, BlockPageKey, HeadKey, LatestMetricsKey, MetricSeriesKey
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.instant import Instant, require_aware
from resolvers.intervals import (
    EPOCH,
    UnknownInterval,
    close_time,
    count_between,
    floor,
    parse_interval,
    shift,
)
from resolvers.paging import bounded_first, decode_cursor, encode_cursor
from storage.records import BlockRecord, ChainMetricRecord, ChainRecord

DEFAULT_BLOCKS = 20
MAX_BLOCKS = 100
DEFAULT_POINTS = 100
MAX_POINTS = 1000
#: Raw points read to build bucketed series; beyond it the oldest buckets are
#: built from what was read and flagged by a smaller ``count``.
MAX_RAW_POINTS = 50_000
AGGREGATES = ("LAST", "MEAN", "MIN", "MAX", "SUM")


async def all_chains(ctx: Context) -> list[ChainRecord]:
    return await ctx.loaders.chains.load(ALL)


async def chain(ctx: Context, chain_id: str | None) -> ChainRecord | None:
    if chain_id is None:
        return None
    return await ctx.loaders.chain_by_id.load(chain_id)


async def head(ctx: Context, chain_id: str, instant: Instant) -> BlockRecord | None:
    return await ctx.loaders.head_block_by_chain.load(HeadKey(chain_id, instant.at))


@dataclass(frozen=True, slots=True)
class BlockPage:
    blocks: list[BlockRecord]
    has_next: bool
    has_previous: bool


def block_cursor(block: BlockRecord) -> str:
    return encode_cursor("blocks", [block.chain_id, block.number])


async def blocks(
    ctx: Context, chain_id: str, instant: Instant, *, first: int, after: str | None
) -> BlockPage:
    """Canonical blocks newest first (``after`` continues towards older blocks)."""
    limit = bounded_first(first, maximum=MAX_BLOCKS)
    before = None
    if after is not None:
        payload = decode_cursor(after, "blocks")
        if len(payload) != 2 or payload[0] != chain_id or not isinstance(payload[1], int):
            raise BadUserInput("after: this cursor belongs to another chain's blocks")
        before = payload[1]
    if limit == 0:
        return BlockPage(blocks=[], has_next=False, has_previous=after is not None)
    rows = await ctx.loaders.blocks_by_chain.load(
        BlockPageKey(chain_id, before, instant.at, limit + 1)
    )
    return BlockPage(
        blocks=rows[:limit], has_next=len(rows) > limit, has_previous=before is not None
    )


async def latest_metrics(
    ctx: Context, chain_id: str, instant: Instant, kinds: Sequence[str] | None = None
) -> list[ChainMetricRecord]:
    key = LatestMetricsKey(chain_id, instant.at, instant.minus(ctx.graph.metric_max_age_seconds))
    found = await ctx.loaders.latest_metrics_by_chain.load(key)
    if kinds is None:
        return found
    return [m for m in found if m.kind in set(kinds)]


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """A raw point (``count`` 1) or a bucket of points aggregated by ``aggregate``."""

    kind: str
    ts: datetime
    value: Decimal
    source: str
    count: int
    interval: str | None


def _combine(values: list[Decimal], how: str) -> Decimal:
    if how == "LAST":
        return values[-1]
    if how == "MIN":
        return min(values)
    if how == "MAX":
        return max(values)
    total = sum(values, Decimal(0))
    return total if how == "SUM" else total / len(values)


async def metric_series(
    ctx: Context,
    chain_id: str,
    instant: Instant,
    *,
    kind: str,
    interval: str | None,
    from_: datetime | None,
    to: datetime | None,
    last: int | None,
    aggregate: str,
) -> list[MetricPoint]:
    """A chain metric over time: raw points, or buckets of ``interval`` (oldest first)."""
    if aggregate not in AGGREGATES:
        raise BadUserInput(f"unknown aggregate {aggregate!r}", extensions={"argument": "aggregate"})
    if last is not None and not 1 <= last <= MAX_POINTS:
        raise BadUserInput(
            f"last must be between 1 and {MAX_POINTS} (got {last})",
            extensions={"argument": "last", "maximum": MAX_POINTS},
        )
    end = instant.at if to is None else min(require_aware("to", to), instant.at)
    start = None if from_ is None else require_aware("from", from_)
    if start is not None and start > end:
        raise BadUserInput("from must not be later than to", extensions={"argument": "from"})
    if interval is None:
        key = MetricSeriesKey(chain_id, kind, start, end, last or DEFAULT_POINTS)
        rows = await ctx.loaders.metric_series_by_chain.load(key)
        return [MetricPoint(r.kind, r.ts, r.value, r.source, 1, None) for r in rows]
    try:
        iv = parse_interval(interval)
    except UnknownInterval as exc:
        raise BadUserInput(str(exc), extensions={"argument": "interval"}) from None
    last_open = floor(iv, end)
    if start is None or last is not None:
        first_open = shift(iv, last_open, -((last or DEFAULT_POINTS) - 1))
    else:
        first_open = EPOCH
    if start is not None:
        aligned = floor(iv, start)
        first_open = max(first_open, aligned if aligned == start else shift(iv, aligned, 1))
    count = count_between(iv, first_open, last_open)
    if count > MAX_POINTS:
        raise BadUserInput(
            f"the range holds {count} {iv.name} buckets; at most {MAX_POINTS} per request",
            extensions={"argument": "from", "maximum": MAX_POINTS},
        )
    if count == 0:
        return []
    key = MetricSeriesKey(
        chain_id, kind, first_open, min(end, close_time(iv, last_open)), MAX_RAW_POINTS
    )
    rows = await ctx.loaders.metric_series_by_chain.load(key)
    buckets: dict[datetime, list[ChainMetricRecord]] = {}
    for r in rows:
        buckets.setdefault(floor(iv, r.ts), []).append(r)
    return [
        MetricPoint(
            kind=kind,
            ts=ts,
            value=_combine([r.value for r in pts], aggregate),
            source=pts[-1].source,
            count=len(pts),
            interval=iv.name,
        )
        for ts, pts in sorted(buckets.items())
    ]
