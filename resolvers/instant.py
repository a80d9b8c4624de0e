"""The instant a subtree of the graph is read at ("time travel").

``asOf`` is accepted on the root fields (``asset``, ``assets``, ``chain``,
``chains``) and carried down on the wrapping objects (``Asset``, ``Chain``
…) as an :class:`Instant`, not through the request context. Two aliased
roots in one document may ask for different instants
(``now: asset(id: "bitcoin") {…}  then: asset(id: "bitcoin", asOf: …) {…}``);
a per-request context value could hold only one of them, while a value on the
wrapper scopes each instant to exactly its own subtree and needs no argument
repeated on nested fields.

Without ``asOf`` the instant is the request's fixed ``ctx.now``, so every
age and staleness figure in one response is measured against the same
moment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from resolvers.context import Context
from resolvers.errors import BadUserInput


@dataclass(frozen=True, slots=True)
class Instant:
    """``at``: read values as they stood then; ``historical``: ``asOf`` was given.

    A historical read also refuses stored candles that closed after ``at``
    (they contain later trades); a live read shows the forming candle.
    """

    at: datetime
    historical: bool = False

    def age_seconds(self, observed_at: datetime) -> int:
        return max(0, int((self.at - observed_at).total_seconds()))

    def minus(self, seconds: int) -> datetime:
        return self.at - timedelta(seconds=seconds)


T = TypeVar("T")


def per_instant(make: Callable[[Instant], T]) -> Callable[[Instant], T]:
    """``make`` computed once per instant object, for a batch over many assets.

    A list's assets share their instant: a batch resolver derives windows and
    look-backs once, not per asset. Keyed by identity (an ``Instant`` hashes through
    a Python-level ``__hash__``); the memo keeps each instant, so an id is not reused.
    A run of calls with the same instant object (the usual batch) is answered from
    the last call's value without a lookup. The memo lives as long as ``get`` (its
    callers make one per batch).
    """
    memo: dict[int, tuple[Instant, T]] = {}
    last: object = _NO_INSTANT
    value: T

    def get(instant: Instant) -> T:
        nonlocal last, value
        if instant is last:
            return value
        hit = memo.get(id(instant))
        if hit is None:
            hit = memo[id(instant)] = (instant, make(instant))
        last, value = hit
        return value

    return get


#: ``per_instant``'s last instant before its first call: no ``Instant`` is this object
_NO_INSTANT = object()


def require_aware(name: str, value: datetime) -> datetime:
    """Reject naive timestamps instead of guessing their zone; normalise to UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadUserInput(
            f"{name} must carry a timezone, e.g. 2024-01-01T00:00:00Z",
            extensions={"argument": name},
        )
    return value.astimezone(UTC)


def resolve_instant(ctx: Context, as_of: datetime | None) -> Instant:
    """The instant for a root field: ``asOf`` if given (never in the future), else now."""
    if as_of is None:
        return Instant(at=ctx.now)
    at = require_aware("asOf", as_of)
    if at > ctx.now:
        raise BadUserInput(
            f"asOf {at.isoformat()} is in the future (now is {ctx.now.isoformat()})",
            extensions={"argument": "asOf"},
        )
    return Instant(at=at, historical=True)
