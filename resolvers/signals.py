"""Signal and grade resolvers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from loaders.signals import SignalKey
from resolvers.context import Context
from resolvers.instant import Instant, per_instant
from storage.records import SignalRecord

GRADE_KIND = "trader_grade"

_tuple_new = tuple.__new__


async def latest_signals(ctx: Context, asset_id: int, instant: Instant) -> list[SignalRecord]:
    key = SignalKey(asset_id, instant.at, instant.minus(ctx.graph.signal_max_age_seconds))
    return await ctx.loaders.signals_by_asset.load(key)


async def latest_signals_many(
    ctx: Context, assets: Sequence[tuple[int, Instant]]
) -> list[list[SignalRecord] | Exception]:
    """:func:`latest_signals` for many (asset id, instant) pairs: one load for all."""
    max_age = ctx.graph.signal_max_age_seconds
    since = per_instant(lambda instant: instant.minus(max_age))
    keys: list[SignalKey] = []
    last: Instant | None = None
    for asset_id, instant in assets:
        if instant is not last:  # a list's assets share one instant: no call per asset
            last = instant
            at, start = instant.at, since(instant)
        # SignalKey(asset_id, at, start), built in C (see resolvers.prices._tuple_new)
        keys.append(_tuple_new(SignalKey, (asset_id, at, start)))
    return await ctx.loaders.signals_by_asset.load_all(keys)


def kind_filter(kinds: Sequence[str] | None) -> frozenset[str] | None:
    """The set :func:`of_kinds` filters by (None: every kind), built once per list."""
    return None if kinds is None else frozenset(kinds)


def of_kinds(found: list[SignalRecord], wanted: frozenset[str] | None) -> list[SignalRecord]:
    """The signals whose kind is in ``wanted`` (all of them for None), in stored order."""
    if wanted is None:
        return found
    return [s for s in found if s.kind in wanted]


def latest_grade(found: list[SignalRecord]) -> SignalRecord | None:
    """The most recent ``trader_grade`` from any source (ties: source name)."""
    grades = [s for s in found if s.kind == GRADE_KIND]
    return max(grades, key=lambda s: (s.computed_at, s.source), default=None)


async def signals(
    ctx: Context, asset_id: int, instant: Instant, kinds: Sequence[str] | None
) -> list[SignalRecord]:
    """The latest value of each kind from each source (all kinds unless ``kinds``)."""
    return of_kinds(await latest_signals(ctx, asset_id, instant), kind_filter(kinds))


async def grade(ctx: Context, asset_id: int, instant: Instant) -> SignalRecord | None:
    """The most recent ``trader_grade`` from any source (ties: source name)."""
    return latest_grade(await latest_signals(ctx, asset_id, instant))


@dataclass(frozen=True, slots=True)
class GradeComponent:
    name: str
    score: Decimal
    weight: Decimal | None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        dec = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return dec if dec.is_finite() else None


def grade_components(details: Mapping[str, Any] | None) -> list[GradeComponent]:
    """Component scores stored in a grade's ``details``.

    The signals engine (``ingest.grade``, docs/signals.md) stores each
    component score under its name next to a ``weights`` mapping:
    ``{"trend": "71.5", "momentum": "55", …, "weights": {"trend": "0.35", …}}``.
    Also accepted, for grades from other sources: ``{"components": {"trend":
    80, …}}`` and ``{"components": [{"name": …, "score": …, "weight": …}]}``.
    Anything else yields no components rather than a guess.
    """
    d = details or {}
    raw = d.get("components")
    weights = d.get("weights")
    items: list[tuple[str, Any]] = []
    if isinstance(raw, Mapping):
        items = [(str(k), v) for k, v in raw.items()]
    elif isinstance(raw, list):
        items = [(str(c.get("name")), c) for c in raw if isinstance(c, Mapping) and c.get("name")]
    elif isinstance(weights, Mapping):
        items = [(str(k), {"score": d.get(k), "weight": w}) for k, w in weights.items() if k in d]
    out: list[GradeComponent] = []
    for name, value in items:
        if isinstance(value, Mapping):
            score = _number(value.get("score", value.get("value")))
            weight = _number(value.get("weight"))
        else:
            score, weight = _number(value), None
        if score is not None:
            out.append(GradeComponent(name=name, score=score, weight=weight))
    return sorted(out, key=lambda c: c.name)
