"""Revocation reaches every instance within seconds: Redis pub/sub plus a short TTL.

Whoever changes a key (``cryptoql keys revoke``/``rotate`` or the admin
route on any instance) publishes the key id on ``key_invalidation_channel``;
every server process runs one :class:`InvalidationListener` that drops that
id from its cache, so the next request re-reads the row. Pub/sub is
fire-and-forget: when the listener's connection breaks, messages sent
meanwhile are lost, so on every (re)subscribe the whole cache is cleared, and
the cache TTL (≤2 s) bounds staleness even while Redis is down. Without
``redis_url`` the TTL alone applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis

log = logging.getLogger("cryptoql.auth.invalidation")

RETRY_MIN = 0.2
RETRY_MAX = 5.0


async def publish_invalidation(redis_url: str, channel: str, key_id: str) -> int:
    """Tell every instance to forget ``key_id``; returns how many listeners got it."""
    client: Redis = Redis.from_url(redis_url)
    try:
        return int(await client.publish(channel, key_id))
    finally:
        await client.aclose()


class InvalidationListener:
    """Subscribes to the invalidation channel and calls back; reconnects on failure."""

    def __init__(
        self,
        redis_url: str,
        channel: str,
        evict: Callable[[str], None],
        clear: Callable[[], None],
    ) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self._evict = evict
        self._clear = clear
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        self.received = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="cryptoql-key-invalidation")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        delay = RETRY_MIN
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed.clear()
                log.warning("key invalidation feed interrupted (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
            else:
                delay = RETRY_MIN

    async def _listen(self) -> None:
        client: Redis = Redis.from_url(self.redis_url)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(self.channel)
                # Anything published while we were not listening is lost: start clean.
                self._clear()
                self.subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = message.get("data")
                    key_id = data.decode() if isinstance(data, bytes) else str(data)
                    self.received += 1
                    self._evict(key_id)
        finally:
            await client.aclose()
