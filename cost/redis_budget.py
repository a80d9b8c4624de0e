"""Budgets in Redis: one bucket per caller shared by every server process.

Each bucket is a hash ``{a: available points, t: time of last update}``. Every
operation is one Lua script, so read-refill-decide-write is atomic however
many processes call at once, and the time comes from Redis (``TIME``) so
processes with drifting clocks still agree on how much has refilled. A bucket
that is full again is deleted (and each key expires when it would have refilled
anyway), so idle callers cost no memory.

When Redis cannot be reached the store degrades to a per-process bucket
(:class:`cost.budget.MemoryBudgetStore`) and logs it, rather than failing every
request or letting every request through.

:meth:`RedisBudgetStore.aclose` disconnects the client's pool, and the store
refuses every later operation (:class:`BudgetStoreClosed`): a redis-py pool
that was closed opens a fresh connection on its next command, which nothing
would ever close.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from cost.budget import BucketStatus, Decision, MemoryBudgetStore, Tier, decide

log = logging.getLogger("cryptoql.cost")

_SCRIPT = """
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local op = ARGV[3]
local amount = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'a', 't')
local avail = cap
if state[1] then
  avail = math.min(cap, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
end
local allowed = 1
if op == 'take' then
  if amount <= avail + 1e-9 then
    avail = math.max(0, avail - amount)
  else
    allowed = 0
  end
elseif op == 'give' then
  avail = math.min(cap, avail + math.max(0, amount))
end
if op ~= 'peek' then
  if avail >= cap then
    redis.call('DEL', KEYS[1])
  else
    redis.call('HSET', KEYS[1], 'a', string.format('%.6f', avail), 't', string.format('%.6f', now))
    redis.call('PEXPIRE', KEYS[1], math.ceil((cap - avail) / rate * 1000) + 1000)
  end
end
return {allowed, string.format('%.6f', avail)}
"""


class BudgetStoreClosed(RuntimeError):
    """A budget operation after :meth:`RedisBudgetStore.aclose` (a shutdown-order bug)."""


class RedisBudgetStore:
    def __init__(self, client: Redis, prefix: str = "cryptoql:budget:") -> None:
        self.client = client
        self.prefix = prefix
        self._script: Any = client.register_script(_SCRIPT)
        self._fallback = MemoryBudgetStore()
        self._last_warning = 0.0
        self._closed = False

    @classmethod
    def from_url(cls, url: str, prefix: str = "cryptoql:budget:") -> RedisBudgetStore:
        return cls(Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0), prefix)

    async def _run(self, key: str, tier: Tier, op: str, amount: float) -> tuple[bool, float]:
        if self._closed:
            raise BudgetStoreClosed(f"budget store {self.prefix!r} is closed ({op} {key!r})")
        raw = await self._script(
            keys=[self.prefix + key],
            args=[repr(tier.capacity), repr(tier.restore_rate), op, repr(float(amount))],
        )
        return int(raw[0]) == 1, float(raw[1])

    def _degraded(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > 30:
            self._last_warning = now
            log.warning("budget store unreachable; using per-process buckets", exc_info=exc)

    def _status(self, tier: Tier, available: float) -> BucketStatus:
        return BucketStatus(tier.capacity, available, tier.restore_rate)

    async def take(self, key: str, tier: Tier, cost: float) -> Decision:
        try:
            allowed, available = await self._run(key, tier, "take", cost)
        except RedisError as exc:
            self._degraded(exc)
            return await self._fallback.take(key, tier, cost)
        if allowed:
            return Decision(True, self._status(tier, available), 0.0)
        _, _, retry = decide(available, tier, cost)
        return Decision(False, self._status(tier, available), retry)

    async def give(self, key: str, tier: Tier, amount: float) -> BucketStatus:
        try:
            _, available = await self._run(key, tier, "give", amount)
        except RedisError as exc:
            self._degraded(exc)
            return await self._fallback.give(key, tier, amount)
        return self._status(tier, available)

    async def peek(self, key: str, tier: Tier) -> BucketStatus:
        try:
            _, available = await self._run(key, tier, "peek", 0.0)
        except RedisError as exc:
            self._degraded(exc)
            return await self._fallback.peek(key, tier)
        return self._status(tier, available)

    async def aclose(self) -> None:
        self._closed = True
        await self.client.aclose()
