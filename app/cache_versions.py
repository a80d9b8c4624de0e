"""The data versions ingest announces, read the moment a cached answer is used.

Ingest publishes on ``pubsub.channels.data_version(domain)`` after each commit
that changed a domain (``ingest.publish.Publisher.bump``); the broker's
sequence number on that channel *is* the version. Reading it back is
``broker.last_seq``: a dictionary lookup for the in-process broker, a Redis
``GET`` per domain (issued together) for the Redis broker, which every process
shares, so a bump by an ingest worker anywhere invalidates answers cached
anywhere.

Versions are read on every lookup rather than mirrored from the pub/sub feed:
a mirror lags the commit by the delivery delay, and an answer served in that
window would be staler than a fresh one. The broker's ``epoch`` is part of a
snapshot, so sequence numbers that restart (a new in-process broker, a Redis
that lost its data) never match versions recorded before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from app.cache_domains import DOMAINS
from pubsub import channels

_CHANNELS = {domain: channels.data_version(domain) for domain in DOMAINS}


class _SeqSource(Protocol):
    epoch: str

    async def last_seq(self, channel: str) -> int: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every domain's version at one moment."""

    epoch: str
    versions: Mapping[str, int]

    def select(self, domains: Iterable[str]) -> tuple[tuple[str, int], ...]:
        """The versions of ``domains``, in a stable order (what an entry records)."""
        return tuple((d, self.versions[d]) for d in sorted(domains))

    def matches(self, epoch: str, recorded: Iterable[tuple[str, int]]) -> bool:
        """True when nothing an entry read has changed since it was recorded."""
        if epoch != self.epoch:
            return False
        return all(self.versions.get(d) == v for d, v in recorded)


class DataVersions:
    """Reads all domains' versions from the broker (raises ``BrokerError`` when it cannot)."""

    def __init__(self, broker: _SeqSource) -> None:
        self.broker = broker
        self._local = getattr(broker, "backend", "") == "memory"

    async def snapshot(self) -> Snapshot:
        broker = self.broker
        epoch = broker.epoch  # read first: a restart between the reads makes a mismatch
        if self._local:
            values = [await broker.last_seq(_CHANNELS[d]) for d in DOMAINS]
        else:
            values = list(await asyncio.gather(*(broker.last_seq(_CHANNELS[d]) for d in DOMAINS)))
        return Snapshot(epoch, dict(zip(DOMAINS, values, strict=True)))


__all__ = ["DataVersions", "Snapshot"]
