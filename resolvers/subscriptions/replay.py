"""Reading the replay window: what a resume or a restarted topic folds and replays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pubsub.broker import Broker, Event, ReplayWindowExceeded


def order(event: Event) -> tuple[Any, ...]:
    return (event.ts, event.channel, event.seq)


async def retained(
    broker: Broker, channel: str, upto: int, *, since: int | None, history: bool
) -> list[Event]:
    """Retained events of ``channel`` with ``seq <= upto``, oldest first.

    ``since`` (a cursor position): every event after it must still be retained,
    else :class:`ReplayWindowExceeded`. ``history``: also return the retained
    events up to ``since`` (or all of them without ``since``), which a stream
    that folds state (prices) needs to rebuild it.
    """
    if since is not None and not history:
        got = await broker.replay(channel, since)
    else:
        size = int(getattr(broker, "replay_window", 1000))
        try:
            got = await broker.replay(channel, max(0, upto - size))
        except ReplayWindowExceeded as exc:
            got = await broker.replay(channel, max(0, exc.oldest - 1))
        if since is not None and since < upto:
            first = got[0].seq if got else upto + 1
            if first > since + 1:
                raise ReplayWindowExceeded(channel, since, first)
    return [e for e in got if e.seq <= upto]


async def window(
    broker: Broker,
    channels: Sequence[str],
    upto: Mapping[str, int],
    *,
    since: Mapping[str, int] | None,
    history: bool,
) -> list[Event]:
    """:func:`retained` over several channels, merged in publish order."""
    out: list[Event] = []
    for ch in channels:
        out.extend(
            await retained(
                broker, ch, upto[ch], since=None if since is None else since[ch], history=history
            )
        )
    return sorted(out, key=order)
