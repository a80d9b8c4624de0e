"""Time for the resilience machinery: real, or driven by a test.

Everything in :mod:`sources.resilience` and :mod:`sources.http` reads time from
a :class:`Clock`, never from ``time``/``asyncio`` directly, so tests can run
Retry-After waits, breaker cool-downs and rate-limit pacing without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Time source: monotonic seconds for intervals, UTC wall time for records."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock tests drive: ``sleep`` advances time at once instead of waiting.

    ``sleeps`` records every requested sleep so a test can assert what the
    policy waited for (e.g. exactly the ``Retry-After``).
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._mono = 1000.0
        self._wall = start or datetime(2026, 1, 1, tzinfo=UTC)
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._mono

    def now(self) -> datetime:
        return self._wall + timedelta(seconds=self._mono - 1000.0)

    def advance(self, seconds: float) -> None:
        self._mono += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


__all__ = ["Clock", "ManualClock", "SystemClock"]
