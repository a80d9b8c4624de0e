"""Chooses the broker backend: Redis when a URL is configured, otherwise in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from pubsub.memory import DEFAULT_QUEUE_SIZE, DEFAULT_REPLAY_WINDOW, MemoryBroker

if TYPE_CHECKING:
    from pubsub.redis import RedisBroker


def create_broker(
    redis_url: str = "",
    *,
    replay_window: int = DEFAULT_REPLAY_WINDOW,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    namespace: str = "",
) -> MemoryBroker | RedisBroker:
    """A broker that is not started yet (see :func:`running_broker`).

    ``namespace`` prefixes every Redis key and channel, so several deployments
    (or tests) can share one Redis without seeing each other's events.
    """
    if redis_url:
        from pubsub.redis import RedisBroker

        return RedisBroker(
            redis_url,
            replay_window=replay_window,
            queue_size=queue_size,
            namespace=namespace,
        )
    return MemoryBroker(replay_window=replay_window, queue_size=queue_size)


@asynccontextmanager
async def running_broker(
    redis_url: str = "",
    *,
    replay_window: int = DEFAULT_REPLAY_WINDOW,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    namespace: str = "",
) -> AsyncIterator[MemoryBroker | RedisBroker]:
    """Create, start and finally stop a broker (the Redis listener is a task)."""
    broker = create_broker(
        redis_url, replay_window=replay_window, queue_size=queue_size, namespace=namespace
    )
    await broker.start()
    try:
        yield broker
    finally:
        await broker.aclose()
