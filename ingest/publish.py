"""Publishing what ingest stored: live ticks, candles, signals and data versions.

Called only *after* the transaction that stored the rows has committed, so a
subscriber never sees a value that a crash could still take back. The broker
is optional (``cryptoql backfill`` and ``cryptoql import`` run without one),
and a broker failure (Redis down) is logged and counted but never fails the
write: the database is the record, the broker only a notification.

Besides the per-entity channels, every write bumps the per-domain data
version (``channels.data_version(domain)``): the broker's sequence number on
that channel is the version, which caches key their invalidation on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pubsub import channels, messages
from pubsub.broker import Broker, Message
from storage.records import SignalRecord
from storage.repositories.ingest import CandleRow, QuoteRow

log = logging.getLogger("cryptoql.ingest.publish")

DOMAINS = ("assets", "quotes", "candles", "signals")


@dataclass
class Published:
    """Counts of what was handed to the broker (and what it refused)."""

    messages: int = 0
    failures: int = 0
    last_error: str | None = None
    versions: dict[str, int] = field(default_factory=dict)


class Publisher:
    def __init__(self, broker: Broker | None) -> None:
        self.broker = broker
        self.stats = Published()

    async def _send(self, channel: str, message: Message) -> int | None:
        if self.broker is None:
            return None
        try:
            seq = await self.broker.publish(channel, message)
        except Exception as exc:  # a notification failure must never undo a stored write
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            if self.stats.failures in (1, 10, 100) or self.stats.failures % 1000 == 0:
                log.warning(
                    "broker publish failed",
                    extra={"channel": channel, "error": self.stats.last_error},
                )
            return None
        self.stats.messages += 1
        return seq

    async def bump(self, domains: Iterable[str]) -> None:
        """Advance the data version of each domain whose stored data changed."""
        for domain in dict.fromkeys(domains):
            seq = await self._send(channels.data_version(domain), {"domain": domain})
            if seq is not None:
                self.stats.versions[domain] = seq

    async def quotes(self, rows: Sequence[tuple[str, QuoteRow]]) -> None:
        for canonical_id, q in rows:
            await self._send(
                channels.prices(canonical_id, q.quote_currency),
                messages.price_tick(
                    asset=canonical_id,
                    quote=q.quote_currency,
                    source=q.source,
                    price=q.price,
                    observed_at=q.observed_at,
                    volume_24h=q.volume_24h,
                    market_cap=q.market_cap,
                    change_24h=q.change_24h,
                ),
            )

    async def candles(self, rows: Sequence[tuple[str, CandleRow]]) -> None:
        for canonical_id, c in rows:
            await self._send(
                channels.candles(canonical_id, c.interval),
                messages.candle_update(
                    asset=canonical_id,
                    quote=c.quote_currency,
                    interval=c.interval,
                    source=c.source,
                    open_time=c.open_time,
                    open=c.open,
                    high=c.high,
                    low=c.low,
                    close=c.close,
                    volume=c.volume,
                    is_complete=c.is_complete,
                ),
            )

    async def signals(self, rows: Sequence[tuple[str, SignalRecord]]) -> None:
        for canonical_id, s in rows:
            await self._send(
                channels.signals(canonical_id),
                messages.signal_value(
                    asset=canonical_id,
                    source=s.source,
                    kind=s.kind,
                    value=s.value,
                    direction=s.direction,
                    horizon=s.horizon,
                    computed_at=s.computed_at,
                    details=s.details,
                ),
            )


__all__ = ["DOMAINS", "Published", "Publisher"]
