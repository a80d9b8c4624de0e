"""Per-event cost charging for subscriptions, batched per budget key.

The cost model prices one event of a subscription at its static estimate
(``cost.CostService.estimate``). Charging the budget store for each delivered
event of each subscriber would put a Redis round trip on every socket write,
so deliveries are *metered* here (a dict update) and the sums are charged once
per ``interval`` per budget key. When a charge does not fit, the key is
blocked for the store's ``retry_after`` and its subscribers' events are
skipped meanwhile (counted as throttled; prices subscribers simply receive the
latest value once the budget allows, like any conflated update), and the
refused amount stays owed, capped at ``max_debt`` per key, so a throttled key
cannot accumulate unbounded debt. Charging is post-paid: a key can overrun
its budget by at most one interval's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

log = logging.getLogger("cryptoql.subscriptions.meter")


class ChargeDecision(Protocol):
    @property
    def allowed(self) -> bool: ...

    @property
    def retry_after(self) -> float: ...


Charge = Callable[[str, str, float], Awaitable[ChargeDecision]]


class Meter:
    def __init__(self, charge: Charge, *, interval: float = 1.0, max_debt: float = 1e6) -> None:
        self._charge = charge
        self.interval = interval
        self.max_debt = max_debt
        self._owed: dict[tuple[str, str], float] = {}
        self._blocked_until: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self.charged = 0.0
        self.refusals = 0

    def allow(self, key: str) -> bool:
        until = self._blocked_until.get(key)
        if until is None:
            return True
        if time.monotonic() >= until:
            del self._blocked_until[key]
            return True
        return False

    def add(self, key: str, tier: str, cost: float) -> None:
        k = (key, tier)
        self._owed[k] = self._owed.get(k, 0.0) + cost

    async def flush(self) -> None:
        owed, self._owed = self._owed, {}
        for (key, tier), amount in owed.items():
            try:
                decision = await self._charge(key, tier, amount)
            except Exception:  # a budget store outage must not stop delivery
                log.warning("charging %s failed; carried over", key, exc_info=True)
                self._carry(key, tier, amount)
                continue
            if decision.allowed:
                self.charged += amount
                continue
            self.refusals += 1
            wait = decision.retry_after if math.isfinite(decision.retry_after) else 60.0
            self._blocked_until[key] = time.monotonic() + max(wait, self.interval)
            self._carry(key, tier, amount)

    def _carry(self, key: str, tier: str, amount: float) -> None:
        k = (key, tier)
        self._owed[k] = min(self.max_debt, self._owed.get(k, 0.0) + amount)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cryptoql-subscription-meter")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()

    def snapshot(self) -> dict[str, Any]:
        return {
            "charged": self.charged,
            "refusals": self.refusals,
            "blocked_keys": len(self._blocked_until),
        }
