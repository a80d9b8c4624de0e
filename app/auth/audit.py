"""Writes authentication failures to the audit log off the request path.

Issuance, rotation and revocation are written in the same transaction as the
change they record (``app.auth.manage``). Failures are different: they happen
on the request path and an attacker controls how many there are. So they go
through a bounded queue to one writer task that inserts them in batches. The
request never waits for the database, a flood costs one insert per batch, and
when the queue is full events are dropped and counted (and the drop is
logged) instead of growing memory. Failures that are rejected before any
database work (malformed key, bad checksum) are logged, not written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from storage.engine import SessionFactory
from storage.repositories import keys as repo
from storage.repositories.keys import AuditEvent

log = logging.getLogger("cryptoql.auth.audit")

BATCH = 500


class AuditWriter:
    def __init__(self, sessions: SessionFactory, max_queue: int) -> None:
        self._sessions = sessions
        self._queue: asyncio.Queue[AuditEvent] = asyncio.Queue(maxsize=max_queue)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.written = 0

    def record(self, event: AuditEvent) -> None:
        """Queue an event; never blocks and never raises."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("audit queue full: %d auth-failure events dropped", self.dropped)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="cryptoql-key-audit")

    async def flush(self) -> None:
        """Wait until every queued event is written (tests, shutdown)."""
        await self._queue.join()

    async def stop(self) -> None:
        if self._task is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), timeout=5)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                async with self._sessions() as session:
                    await repo.append_audit_events(session, batch)
                    await session.commit()
                self.written += len(batch)
            except Exception:
                self.dropped += len(batch)
                log.exception("could not write %d audit events", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()
