"""The Broker protocol: how ingest publishes live events and subscriptions receive them.

Backends (in-process memory, Redis pub/sub) implement this protocol; channel
names are built only by :mod:`pubsub.channels`. Published messages are
JSON-serialisable dicts. The broker wraps each one in an :class:`Event` that
carries a per-channel, monotonically increasing ``seq`` (starting at 1) and the
publish time ``ts`` (aware UTC), so a subscriber that reconnects can ask for
what it missed with :meth:`Broker.replay` — the payload keeps its own fields
(an upstream ``ts`` inside a tick is never overwritten).

Errors (all subclass :class:`BrokerError`)::

    BrokerError
    ├── ReplayWindowExceeded   the requested cursor is older than the retained window
    ├── SubscriptionLagged     a subscriber fell so far behind that its queue overflowed
    └── BrokerUnavailable      the backend (Redis) cannot be reached right now
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Event:
    """One delivered message: the publisher's payload plus the broker's position stamp."""

    channel: str
    seq: int
    ts: datetime
    data: Message


class BrokerError(Exception):
    """Base of every error a broker raises."""


class ReplayWindowExceeded(BrokerError):
    """``after`` is older than the oldest retained event: the gap cannot be replayed.

    ``oldest`` is the first seq still retained; a client must refetch state
    (a query) and subscribe afresh instead of trusting a partial replay.
    """

    def __init__(self, channel: str, after: int, oldest: int) -> None:
        super().__init__(
            f"cannot replay {channel} after seq {after}: the oldest retained seq is {oldest}"
        )
        self.channel, self.after, self.oldest = channel, after, oldest


class SubscriptionLagged(BrokerError):
    """The subscriber's bounded queue overflowed; events would have been lost silently.

    Raised from the subscription's iterator once the events queued before the
    overflow are consumed, so the consumer can resume with :meth:`Broker.replay`.
    """


class BrokerUnavailable(BrokerError):
    """The backend cannot be reached (e.g. Redis down); publishing failed."""


class Broker(Protocol):
    backend: str
    """``"memory"`` or ``"redis"``."""
    epoch: str
    """Changes whenever sequence numbers restart (process restart, flushed Redis)."""

    async def publish(self, channel: str, message: Message) -> int:
        """Publish ``message`` on ``channel``; returns the sequence number assigned."""
        ...

    def subscribe(self, *channels: str) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        """``async with broker.subscribe(ch) as events: async for ev in events: ...``.

        Events of all ``channels`` arrive in publish order per channel. Leaving the
        ``async with`` unsubscribes and frees the queue. The subscription is
        registered when ``__aenter__`` returns, so a subscriber that calls
        :meth:`replay` after entering sees every event exactly once (replay
        covers the past, the iterator the rest; de-duplicate by ``seq``).
        """
        ...

    async def replay(self, channel: str, after: int) -> list[Event]:
        """Retained events of ``channel`` with ``seq > after``, oldest first.

        Raises :class:`ReplayWindowExceeded` when events after ``after`` were
        already evicted from the window.
        """
        ...

    async def last_seq(self, channel: str) -> int:
        """The seq of the last event published on ``channel`` (0 when none)."""
        ...

    def health(self) -> dict[str, Any]:
        """A JSON-able snapshot for ``/readyz`` and metrics; ``ok`` is the verdict."""
        ...
