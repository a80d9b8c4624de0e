"""Per-caller budgets: a leaky bucket of cost points (Shopify's model).

Each caller (``Principal.budget_key``: an API key, or the client IP of an
anonymous caller) has a bucket holding at most ``capacity`` points that refills
continuously at ``restore_rate`` points per second. An operation must find its
requested cost in the bucket before it runs (:meth:`BudgetStore.take`, all or
nothing); after it ran, the difference between the requested and the actual
cost goes back (:meth:`BudgetStore.give`). A caller that waits
``(cost - available) / restore_rate`` seconds is guaranteed to fit.

Two stores share one interface: :class:`MemoryBudgetStore` (one process, the
default) and :class:`cost.redis_budget.RedisBudgetStore` (one budget shared by
every process and machine that talks to the same Redis).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Tier:
    """Budget parameters of one plan tier."""

    name: str
    capacity: float
    restore_rate: float

    def __post_init__(self) -> None:
        if self.capacity <= 0 or self.restore_rate <= 0:
            raise ValueError(f"tier {self.name!r}: capacity and restore rate must be positive")


@dataclass(frozen=True, slots=True)
class BucketStatus:
    """Shopify's ``throttleStatus``: what the bucket holds right now."""

    maximum_available: float
    currently_available: float
    restore_rate: float

    def seconds_until(self, cost: float) -> float:
        """How long until ``cost`` points fit (0 if they fit now, inf if they never can)."""
        missing = cost - self.currently_available
        if missing <= 0:
            return 0.0
        if cost > self.maximum_available:
            return math.inf
        return missing / self.restore_rate

    @property
    def seconds_until_full(self) -> float:
        return max(0.0, self.maximum_available - self.currently_available) / self.restore_rate

    def as_dict(self) -> dict[str, float]:
        return {
            "maximumAvailable": round(self.maximum_available, 3),
            "currentlyAvailable": round(self.currently_available, 3),
            "restoreRate": round(self.restore_rate, 3),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of :meth:`BudgetStore.take`."""

    allowed: bool
    status: BucketStatus
    #: seconds until the requested cost fits (0 when allowed)
    retry_after: float


class BudgetStore(Protocol):
    async def take(self, key: str, tier: Tier, cost: float) -> Decision:
        """Remove ``cost`` points if they are all available; otherwise remove nothing."""
        ...

    async def give(self, key: str, tier: Tier, amount: float) -> BucketStatus:
        """Return ``amount`` points (never above capacity)."""
        ...

    async def peek(self, key: str, tier: Tier) -> BucketStatus:
        """The bucket's current state, unchanged."""
        ...

    async def aclose(self) -> None: ...


def decide(available: float, tier: Tier, cost: float) -> tuple[bool, float, float]:
    """``(allowed, available after, retry after)`` for a take of ``cost`` from ``available``."""
    if cost <= available + 1e-9:
        return True, max(0.0, available - cost), 0.0
    if cost > tier.capacity:
        return False, available, math.inf
    return False, available, (cost - available) / tier.restore_rate


class MemoryBudgetStore:
    """Buckets in a dict, for one process.

    Operations are synchronous under the event loop, so each is atomic. The
    dict is bounded: a bucket that has refilled completely is the same as no
    bucket, so full ones are dropped first when the bound is reached, then the
    least recently used.
    """

    def __init__(
        self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _current(self, key: str, tier: Tier, now: float) -> float:
        state = self._buckets.get(key)
        if state is None:
            return tier.capacity
        available, at = state
        return min(tier.capacity, available + max(0.0, now - at) * tier.restore_rate)

    def _store(self, key: str, tier: Tier, available: float, now: float) -> None:
        if available >= tier.capacity:
            self._buckets.pop(key, None)
            return
        self._buckets[key] = (available, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def _status(self, tier: Tier, available: float) -> BucketStatus:
        return BucketStatus(tier.capacity, available, tier.restore_rate)

    async def take(self, key: str, tier: Tier, cost: float) -> Decision:
        now = self.clock()
        available = self._current(key, tier, now)
        allowed, after, retry = decide(available, tier, cost)
        self._store(key, tier, after, now)
        return Decision(allowed, self._status(tier, after), retry)

    async def give(self, key: str, tier: Tier, amount: float) -> BucketStatus:
        now = self.clock()
        available = min(tier.capacity, self._current(key, tier, now) + max(0.0, amount))
        self._store(key, tier, available, now)
        return self._status(tier, available)

    async def peek(self, key: str, tier: Tier) -> BucketStatus:
        return self._status(tier, self._current(key, tier, self.clock()))

    async def aclose(self) -> None:
        self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)
