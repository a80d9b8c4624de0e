"""The Broker protocol: how ingest publishes live events and subscriptions receive them.

Backends (in-process memory, Redis pub/sub) implement this protocol; channel
names are built only by :mod:`pubsub.channels`. Messages are JSON-serialisable
dicts; every published message gets a per-channel, monotonically increasing
``seq`` and a ``ts`` (UTC ISO-8601) assigned by the broker so subscribers can
resume after a reconnect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

Message = dict[str, Any]


class Broker(Protocol):
    async def publish(self, channel: str, message: Message) -> int:
        """Publish ``message`` on ``channel``; returns the sequence number assigned."""
        ...

    def subscribe(self, *channels: str) -> AbstractAsyncContextManager[AsyncIterator[Message]]:
        """``async with broker.subscribe(ch) as events: async for msg in events: ...``.

        Leaving the ``async with`` unsubscribes and frees the queue.
        """
        ...
