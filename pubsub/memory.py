"""The in-process broker: the default when no ``redis_url`` is configured.

Sequence numbers are per channel and start at 1 in each process; the replay
window is a ring buffer of the last ``replay_window`` events per channel.
``epoch`` is random per broker instance, so a cursor issued before a restart
is recognised as unusable rather than silently matched against new numbers.
Publishing never awaits: it stamps, stores and hands the event to local
subscribers synchronously, so ingest is never slowed by readers.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from pubsub.broker import Event, Message, ReplayWindowExceeded
from pubsub.encoding import normalise
from pubsub.fanout import Fanout

DEFAULT_REPLAY_WINDOW = 1000
DEFAULT_QUEUE_SIZE = 10_000


class _Channel:
    __slots__ = ("ring", "seq")

    def __init__(self, window: int) -> None:
        self.seq = 0
        self.ring: deque[Event] = deque(maxlen=window)


def check_replay(channel: str, after: int, last: int, oldest: int | None) -> None:
    """Shared window arithmetic: raise when ``after`` cannot be continued exactly.

    A cursor beyond the last seq comes from another epoch (restart, flushed
    Redis); it is as unusable as one older than the window.
    """
    if after < 0:
        raise ValueError("after must be >= 0")
    if after == last:
        return
    if after > last or oldest is None or after + 1 < oldest:
        raise ReplayWindowExceeded(channel, after, oldest if oldest is not None else last + 1)


class MemoryBroker:
    backend = "memory"

    def __init__(
        self,
        *,
        replay_window: int = DEFAULT_REPLAY_WINDOW,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        if replay_window < 1:
            raise ValueError("replay_window must be >= 1")
        self.replay_window = replay_window
        self.epoch = secrets.token_hex(4)
        self._fanout = Fanout(queue_size)
        self._channels: dict[str, _Channel] = {}
        self.published = 0

    async def start(self) -> None:
        """Nothing to start in-process (symmetry with the Redis broker)."""

    async def aclose(self) -> None:
        """Nothing to release in-process."""

    async def publish(self, channel: str, message: Message) -> int:
        return self.publish_nowait(channel, message)

    def publish_nowait(self, channel: str, message: Message) -> int:
        """Synchronous publish (the in-process broker never needs to wait)."""
        data = normalise(message)
        st = self._channels.get(channel)
        if st is None:
            st = self._channels[channel] = _Channel(self.replay_window)
        st.seq += 1
        event = Event(channel=channel, seq=st.seq, ts=datetime.now(UTC), data=data)
        st.ring.append(event)
        self.published += 1
        self._fanout.deliver(event)
        return st.seq

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[AsyncIterator[Event]]:
        async with self._fanout.subscribe(*channels) as sub:
            yield sub

    async def replay(self, channel: str, after: int) -> list[Event]:
        st = self._channels.get(channel)
        last = st.seq if st else 0
        oldest = st.ring[0].seq if st and st.ring else None
        check_replay(channel, after, last, oldest)
        if st is None or after >= last:
            return []
        # The ring holds consecutive seqs, so the start index is arithmetic.
        start = after + 1 - st.ring[0].seq
        return [st.ring[i] for i in range(start, len(st.ring))]

    async def last_seq(self, channel: str) -> int:
        st = self._channels.get(channel)
        return st.seq if st else 0

    def health(self) -> dict[str, Any]:
        return {
            "ok": True,
            "backend": self.backend,
            "epoch": self.epoch,
            "channels": len(self._channels),
            "local_subscribers": self._fanout.subscriber_count(),
            "published": self.published,
        }
