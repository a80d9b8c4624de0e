"""Where cached responses live: an in-process LRU bounded in bytes, and Redis.

An :class:`Entry` holds the encoded ``data`` member of one answer (exactly the
bytes the response carries), its ETag, the requested and actual cost the
answer was charged (a hit is charged the same), the data versions it was
computed under and its expiry (wall clock, so an entry written to Redis by
one process expires at the same moment in every other).

:class:`MemoryStore` is the default. :class:`RedisStore` shares entries
between processes and keeps a small in-process LRU in front (an entry is
immutable, so a local copy is as good as the shared one; freshness is checked
against the data versions on every use either way). A Redis failure is
logged and counted and the request goes on as a miss: the cache can only
ever make an answer faster, never fail it.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("cryptoql.cache")

ENTRY_FORMAT = 1
_OVERHEAD = 400  # bytes per entry besides the body (key, header, bookkeeping)


@dataclass(frozen=True, slots=True)
class Entry:
    data: bytes
    etag: str
    requested: int
    actual: int
    epoch: str
    versions: tuple[tuple[str, int], ...]
    expires_at: float
    operation_name: str | None = None

    @property
    def size(self) -> int:
        return len(self.data) + _OVERHEAD

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at

    def encode(self) -> bytes:
        head = {
            "f": ENTRY_FORMAT,
            "etag": self.etag,
            "requested": self.requested,
            "actual": self.actual,
            "epoch": self.epoch,
            "versions": self.versions,
            "expires_at": self.expires_at,
            "op": self.operation_name,
        }
        return orjson.dumps(head) + b"\n" + self.data

    @classmethod
    def decode(cls, raw: bytes) -> Entry | None:
        head_raw, sep, data = raw.partition(b"\n")
        if not sep:
            return None
        try:
            head: dict[str, Any] = orjson.loads(head_raw)
            if head.get("f") != ENTRY_FORMAT:
                return None
            return cls(
                data=data,
                etag=str(head["etag"]),
                requested=int(head["requested"]),
                actual=int(head["actual"]),
                epoch=str(head["epoch"]),
                versions=tuple((str(d), int(v)) for d, v in head["versions"]),
                expires_at=float(head["expires_at"]),
                operation_name=head.get("op"),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


Fresh = Callable[[Entry], bool]


class Store(Protocol):
    backend: str

    async def get(self, key: str, fresh: Fresh | None = None) -> Entry | None:
        """The entry under ``key``; a shared store skips a local copy ``fresh`` rejects."""
        ...

    async def put(self, key: str, entry: Entry) -> None: ...

    async def aclose(self) -> None: ...

    def stats(self) -> dict[str, Any]: ...


class MemoryStore:
    """An LRU of entries bounded by their total size in bytes."""

    backend = "memory"

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self.bytes = 0
        self.evictions = 0

    def get_local(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expired():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put_local(self, key: str, entry: Entry) -> None:
        if entry.size > self.max_bytes:
            return
        self._drop(key)
        self._entries[key] = entry
        self.bytes += entry.size
        while self.bytes > self.max_bytes and self._entries:
            _, old = self._entries.popitem(last=False)
            self.bytes -= old.size
            self.evictions += 1

    def _drop(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size

    def entries(self) -> list[Entry]:
        """The entries held now, least recently used first (for inspection)."""
        return list(self._entries.values())

    async def get(self, key: str, fresh: Fresh | None = None) -> Entry | None:
        return self.get_local(key)

    async def put(self, key: str, entry: Entry) -> None:
        self.put_local(key, entry)

    async def aclose(self) -> None:
        self._entries.clear()
        self.bytes = 0

    def stats(self) -> dict[str, Any]:
        return {"entries": len(self._entries), "bytes": self.bytes, "evictions": self.evictions}


class RedisStore:
    """Entries in Redis (``SET … PX``), with an in-process LRU in front."""

    backend = "redis"

    def __init__(self, redis: Redis, prefix: str, local: MemoryStore) -> None:
        self.redis = redis
        self.prefix = prefix
        self.local = local
        self.errors = 0

    @classmethod
    def from_url(cls, url: str, prefix: str, local_bytes: int) -> RedisStore:
        redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return cls(redis, prefix, MemoryStore(local_bytes))

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors += 1
        if self.errors in (1, 10, 100) or self.errors % 1000 == 0:
            log.warning("response cache: redis %s failed: %s", what, exc)

    async def get(self, key: str, fresh: Fresh | None = None) -> Entry | None:
        entry = self.local.get_local(key)
        if entry is not None and (fresh is None or fresh(entry)):
            return entry
        # absent here, or stale here while another process may have stored a newer one
        try:
            raw = await self.redis.get(self.prefix + key)
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            return None
        if raw is None:
            return None
        entry = Entry.decode(raw if isinstance(raw, bytes) else str(raw).encode())
        if entry is None or entry.expired():
            return None
        self.local.put_local(key, entry)
        return entry

    async def put(self, key: str, entry: Entry) -> None:
        self.local.put_local(key, entry)
        ttl_ms = int((entry.expires_at - time.time()) * 1000)
        if ttl_ms <= 0:
            return
        try:
            await self.redis.set(self.prefix + key, entry.encode(), px=ttl_ms)
        except (RedisError, OSError) as exc:
            self._failed("set", exc)

    async def aclose(self) -> None:
        await self.redis.aclose()

    def stats(self) -> dict[str, Any]:
        return {**self.local.stats(), "redis_errors": self.errors}


__all__ = ["Entry", "MemoryStore", "RedisStore", "Store"]
