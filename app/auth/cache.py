"""A small per-instance cache of key lookups, with single-flight loading.

Every request carrying a key needs its row; the cache keeps that off the
database for at most ``ttl`` seconds (``key_cache_ttl_seconds``, 2 s by
default), which is also the longest a revocation can go unseen by an instance
that missed the Redis invalidation message. Unknown ids are cached exactly like
known ones (as ``None``), so the cache gives no timing hint about which ids
exist, and a flood of one bogus id costs one query per TTL. Concurrent misses
for one id share a single query (single flight). Entries are bounded (LRU).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TTLCache(Generic[V]):
    def __init__(
        self,
        ttl: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[V | None]] = {}
        self._generation = 0

    async def get(self, key: str, load: Callable[[str], Awaitable[V | None]]) -> V | None:
        """The cached value for ``key`` or the result of ``load(key)`` (cached for ``ttl``)."""
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            self._entries.move_to_end(key)
            return hit[1]
        pending = self._inflight.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this waiter itself was cancelled
                # the task doing the load was cancelled: do it ourselves
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        generation = self._generation
        try:
            value = await load(key)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        except BaseException:
            future.cancel()
            raise
        else:
            future.set_result(value)
            # An invalidation that arrived while loading may describe a change
            # the load did not see: serve the value once, but do not cache it.
            if generation == self._generation and self._inflight_is(key, future):
                self._store(key, value)
            return value
        finally:
            if self._inflight_is(key, future):
                del self._inflight[key]

    def _inflight_is(self, key: str, future: asyncio.Future[V | None]) -> bool:
        return self._inflight.get(key) is future

    def _store(self, key: str, value: V | None) -> None:
        if self.ttl <= 0:
            return
        self._entries[key] = (self._clock() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def evict(self, key: str) -> None:
        self._entries.pop(key, None)
        self._inflight.pop(key, None)

    def clear(self) -> None:
        """Forget everything (e.g. after the invalidation feed was interrupted)."""
        self._entries.clear()
        self._inflight.clear()
        self._generation += 1

    def __len__(self) -> int:
        return len(self._entries)
