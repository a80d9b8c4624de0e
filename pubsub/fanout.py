"""In-process fan-out of broker events to local subscriptions (shared by both backends).

Each subscription owns a bounded deque. ``deliver`` never awaits and never
blocks the publisher: a subscriber whose queue is full is marked *lagged* and
stops receiving; its iterator then raises :class:`SubscriptionLagged` after the
events already queued, so the consumer learns of the gap instead of silently
missing events (it can resume with ``Broker.replay``). Consumers of the broker
are shared per-topic executions in ``resolvers.subscriptions`` — a handful per
process — not sockets, so lagging here means the process itself is overloaded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pubsub.broker import Event, SubscriptionLagged


class LocalSubscription:
    """An async iterator over events of a few channels, fed by :class:`Fanout`."""

    __slots__ = ("_closed", "_lagged", "_maxsize", "_queue", "_waiter", "channels")

    def __init__(self, channels: tuple[str, ...], maxsize: int) -> None:
        self.channels = channels
        self._maxsize = maxsize
        self._queue: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._lagged = False
        self._closed = False

    def push(self, event: Event) -> None:
        if self._closed or self._lagged:
            return
        if len(self._queue) >= self._maxsize:
            self._lagged = True
        else:
            self._queue.append(event)
        self._wake()

    def fail(self) -> None:
        """Mark as lagged: the iterator raises after the queued events (a gap happened)."""
        self._lagged = True
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._queue.clear()
        self._wake()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            if self._lagged:
                raise SubscriptionLagged(
                    f"subscriber of {', '.join(self.channels)} overflowed {self._maxsize} events"
                )
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()


class Fanout:
    """Routes each event to the local subscriptions of its channel."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._subs: dict[str, set[LocalSubscription]] = {}

    def deliver(self, event: Event) -> None:
        for sub in self._subs.get(event.channel, ()):
            sub.push(event)

    def fail(self, channel: str) -> None:
        """The backend lost events of ``channel``: tell its subscribers instead of hiding it."""
        for sub in self._subs.get(channel, ()):
            sub.fail()

    def channels(self) -> list[str]:
        return list(self._subs)

    def subscriber_count(self) -> int:
        return len({id(s) for subs in self._subs.values() for s in subs})

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[LocalSubscription]:
        if not channels:
            raise ValueError("subscribe() needs at least one channel")
        sub = LocalSubscription(tuple(dict.fromkeys(channels)), self.queue_size)
        for ch in sub.channels:
            self._subs.setdefault(ch, set()).add(sub)
        try:
            yield sub
        finally:
            sub.close()
            for ch in sub.channels:
                subs = self._subs.get(ch)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subs[ch]
