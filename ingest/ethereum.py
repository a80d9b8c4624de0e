"""The Ethereum ingest pump: blocks, fee summaries, ERC-20 transfers and chain metrics.

**One sync pass** (:meth:`EthereumPump.sync`) brings storage from the cursor (the
last stored canonical block, ``number:hash``) up to ``head - confirmations``:

1. per batch of ``batch_blocks`` numbers, fetch the headers *and*
   ``eth_feeHistory`` in one batched JSON-RPC round trip, then the ``Transfer``
   logs of the range (paged, see :mod:`sources.ethereum`);
2. check the fetched chain links up: the first header's parent must be the
   cursor's hash, each header's parent its predecessor's hash, each log's
   block hash the header's hash at that number. A broken link *inside* the
   fetched data means the node reorganised while we read: the batch is fetched
   again. A broken link *to the cursor* is a reorg of stored blocks: see below;
3. in **one transaction**: upsert the blocks (fee percentiles p10/p50/p90 from
   the fee history), insert the transfers keyed by ``(block_hash, log_index)``,
   upsert per-block chain metrics (``base_fee``, ``gas_used_ratio``,
   ``tx_count``, ``transfer_count``), compute the on-chain signals
   (:mod:`ingest.onchain_signals`) and move the cursor. A crash at any moment
   leaves either all of a batch or none of it;
4. after the commit, publish each new head on ``pubsub.channels.blocks(chain)``
   (:func:`pubsub.messages.block_head`) and bump the ``onchain`` data version.
   A broker failure is logged and counted, never undoes the write.

**Reorgs.** When the next block's parent is not the stored cursor block, the
pump walks back (batched lookups) to the highest height where the node's hash
equals the stored canonical hash, and in one transaction marks every stored
block above it non-canonical, deletes their transfers and per-block metrics
(they described blocks that are no longer history) and moves the cursor to
the common ancestor; the next batches store the new branch. Orphaned blocks
stay in ``blocks`` with ``canonical = false``. Walking back stops after
``max_reorg_depth`` blocks (then the pump rolls back that far, logs an error,
and re-ingests). The rollback is announced on the ``onchain`` data-version
channel (``reorg``: common ancestor and orphaned hashes); block subscribers
then receive the new branch's heads as they are stored.

**Live mode** (:meth:`EthereumPump.run`): a ``newHeads`` WebSocket feed (when
configured) wakes the sync loop on every head, and after *every* (re)connection
the loop syncs from the cursor (``eth_subscribe`` replays nothing, so the
blocks mined while disconnected are backfilled over HTTP). Without WebSocket,
or while it is down, the loop polls every ``poll_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ingest import ethereum_rows as rows
from ingest.ethereum_rows import Cursor
from ingest.onchain_signals import GAS_METRIC, SignalConfig, gas_signals, volume_signals
from pubsub import channels, messages
from pubsub.broker import Broker, Message
from sources.errors import SourceError, SourceUnavailable
from sources.ethereum import EthereumClient
from sources.ethereum_records import SOURCE, BlockFees, BlockHeader, TransferLog
from sources.ethereum_ws import NewHead, NewHeadsFeed
from sources.ws_stream import Connected
from storage.engine import SessionFactory
from storage.repositories import ingest as ingest_repo
from storage.repositories import onchain_writes as repo

log = logging.getLogger(__name__)

#: How many times a batch is refetched when the node reorganises under our feet.
REFETCH_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class EthereumIngestConfig:
    """What to ingest from one EVM chain (built from app settings by the runner)."""

    chain_id: str = "ethereum"
    chain_name: str = "Ethereum"
    evm_chain_id: int | None = None  # verified against eth_chainId when set
    source: str = "ethereum-rpc"  # provenance label on blocks/transfers/metrics
    confirmations: int = 0
    batch_blocks: int = 50
    start_block: int | None = None  # first block when nothing is stored yet
    initial_backfill_blocks: int = 128  # …else this many blocks below the head
    token_contracts: tuple[str, ...] = ()  # empty: every ERC-20 Transfer log
    max_reorg_depth: int = 64
    poll_seconds: float = 12.0
    ws_backstop_seconds: float = 60.0  # poll interval while the WebSocket feed is up
    publish_max: int = 64  # at most this many block messages per sync pass (newest)
    signals: SignalConfig = field(default_factory=SignalConfig)

    @property
    def cursor_stream(self) -> str:
        return f"blocks:{self.chain_id}"


@dataclass
class SyncReport:
    blocks: int = 0
    transfers: int = 0
    reorgs: int = 0
    orphaned: int = 0
    head: int | None = None
    last_stored: int | None = None


class EthereumPump:
    def __init__(
        self,
        client: EthereumClient,
        sessions: SessionFactory,
        config: EthereumIngestConfig,
        *,
        broker: Broker | None = None,
        heads: NewHeadsFeed | None = None,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.cfg = config
        self.broker = broker
        self.heads = heads
        self._checked_chain = False
        self._wake = asyncio.Event()
        self.ws_connected = False
        self.connections = 0
        self.totals = SyncReport()
        self.publish_failures = 0
        self.failures = 0

    def health(self) -> dict[str, Any]:
        """A JSON-able snapshot for ``/readyz`` and logs."""
        t = self.totals
        return {
            "chain": self.cfg.chain_id,
            "head": t.head,
            "last_stored": t.last_stored,
            "lag_blocks": None
            if t.head is None or t.last_stored is None
            else t.head - t.last_stored,
            "websocket": self.heads is not None,
            "websocket_connected": self.ws_connected,
            "websocket_connections": self.connections,
            "blocks": t.blocks,
            "transfers": t.transfers,
            "reorgs": t.reorgs,
            "sync_failures": self.failures,
            "publish_failures": self.publish_failures,
            "skipped_logs": dict(self.client.skipped),
        }

    async def aclose(self) -> None:
        """Close the JSON-RPC client (the pump owns it once built by a factory)."""
        await self.client.rpc.aclose()

    # ------------------------------------------------------------------ setup

    async def prepare(self) -> None:
        """Verify the node serves the configured chain and make sure the chain row exists."""
        if self._checked_chain:
            return
        evm_id = await self.client.chain_id()
        if self.cfg.evm_chain_id is not None and evm_id != self.cfg.evm_chain_id:
            raise ValueError(
                f"node at {self.client.rpc.url} serves chain {evm_id}, "
                f"configured {self.cfg.evm_chain_id} for {self.cfg.chain_id!r}"
            )
        async with self.sessions.begin() as session:
            await repo.ensure_chain(
                session,
                chain_id=self.cfg.chain_id,
                name=self.cfg.chain_name,
                caip2=f"eip155:{evm_id}",
                evm_chain_id=evm_id,
            )
        self._checked_chain = True

    async def cursor(self) -> Cursor | None:
        async with self.sessions() as session:
            return Cursor.decode(
                await ingest_repo.get_cursor(session, self.cfg.source, self.cfg.cursor_stream)
            )

    # ------------------------------------------------------------------ sync

    async def sync(self) -> SyncReport:
        """Store everything from the cursor up to ``head - confirmations`` (see module doc)."""
        await self.prepare()
        report = SyncReport()
        head = await self.client.block_number() - self.cfg.confirmations
        report.head = head
        cursor = await self.cursor()
        if cursor is None:
            start = self.cfg.start_block
            if start is None:
                start = max(0, head - self.cfg.initial_backfill_blocks + 1)
        else:
            start = cursor.number + 1
            # With new blocks, the parent link of the first one tells us about a reorg;
            # without, ask whether the stored tip itself was replaced.
            if start > head and not await self._still_canonical(cursor):
                cursor = await self._handle_reorg(cursor, report)
                start = cursor.number + 1
        published: list[Message] = []
        while start <= head:
            end = min(head, start + self.cfg.batch_blocks - 1)
            fetched = await self._fetch(start, end, cursor)
            if fetched is None:  # the stored tip is no longer canonical
                assert cursor is not None
                cursor = await self._handle_reorg(cursor, report)
                start = cursor.number + 1
                continue
            headers, fees, logs = fetched
            if not headers:
                break  # the node does not have these blocks yet (lagging replica)
            cursor = await self._store(headers, fees, logs)
            report.blocks += len(headers)
            report.transfers += len(logs)
            report.last_stored = cursor.number
            published.extend(self._head_message(h, fees.get(h.number)) for h in headers)
            start = cursor.number + 1
        await self._publish_blocks(published[-self.cfg.publish_max :])
        self._add_totals(report)
        return report

    async def _still_canonical(self, cursor: Cursor) -> bool:
        """False only when the node has a *different* block at the cursor's height.

        A node that lacks the block (a lagging replica behind a load balancer)
        says nothing about a reorg: we wait for it instead of rolling back.
        """
        header = await self.client.block(cursor.number)
        return header is None or header.hash == cursor.hash

    async def _fetch(
        self, start: int, end: int, cursor: Cursor | None
    ) -> tuple[list[BlockHeader], dict[int, BlockFees], list[TransferLog]] | None:
        for _ in range(REFETCH_ATTEMPTS):
            rng = await self.client.block_range(start, end)
            headers = rows.contiguous_prefix(rng, start)
            if headers and cursor is not None and headers[0].parent_hash != cursor.hash:
                return None
            if not headers:
                return [], {}, []
            last = headers[-1].number
            logs = await self.client.transfer_logs(start, last, self.cfg.token_contracts)
            try:
                rows.check_consistent(headers, logs)
            except rows.ChainMoved as exc:
                log.info("chain %s moved during fetch (%s); refetching", self.cfg.chain_id, exc)
                continue
            fees = rng.fees.blocks() if rng.fees is not None else {}
            return headers, fees, logs
        raise SourceUnavailable(SOURCE, "the chain kept moving while a batch was fetched")

    async def _store(
        self, headers: list[BlockHeader], fees: dict[int, BlockFees], logs: list[TransferLog]
    ) -> Cursor:
        cfg = self.cfg
        ts_by_hash = {h.hash: h.timestamp for h in headers}
        counts: dict[str, int] = {}
        for t in logs:
            counts[t.block_hash] = counts.get(t.block_hash, 0) + 1
        blocks = [rows.block_row(cfg, h, fees.get(h.number)) for h in headers]
        transfers = [rows.transfer_row(cfg, t, ts_by_hash[t.block_hash]) for t in logs]
        metrics = [m for b in blocks for m in rows.block_metrics(cfg, b, counts.get(b.hash, 0))]
        tip = Cursor(headers[-1].number, headers[-1].hash)
        async with self.sessions.begin() as session:
            displaced = await repo.upsert_blocks(session, blocks)
            await self._drop(session, displaced, keep_ts={b.timestamp for b in blocks})
            await repo.insert_transfers(session, transfers)
            await repo.upsert_chain_metrics(session, metrics)
            await gas_signals(
                session, cfg.signals, chain_id=cfg.chain_id, metric_source=cfg.source, blocks=blocks
            )
            await volume_signals(
                session,
                cfg.signals,
                chain_id=cfg.chain_id,
                first_ts=headers[0].timestamp,
                last_ts=headers[-1].timestamp,
            )
            await ingest_repo.set_cursor(
                session, cfg.source, cfg.cursor_stream, tip.encode(), datetime.now(UTC)
            )
        return tip

    async def _drop(
        self, session: Any, orphans: Sequence[repo.StoredBlock], keep_ts: set[Any]
    ) -> None:
        """Remove what hung off blocks that left the canonical chain."""
        if not orphans:
            return
        await repo.delete_transfers_of_blocks(session, self.cfg.chain_id, [o.hash for o in orphans])
        stale_ts = [o.timestamp for o in orphans if o.timestamp not in keep_ts]
        await repo.delete_chain_metrics(
            session, self.cfg.source, self.cfg.chain_id, (*rows.BLOCK_METRICS, GAS_METRIC), stale_ts
        )

    # ------------------------------------------------------------------ reorgs

    async def _handle_reorg(self, cursor: Cursor, report: SyncReport) -> Cursor:
        ancestor = await self._common_ancestor(cursor)
        async with self.sessions.begin() as session:
            orphans = await repo.orphan_blocks_above(session, self.cfg.chain_id, ancestor.number)
            await self._drop(session, orphans, keep_ts=set())
            await ingest_repo.set_cursor(
                session,
                self.cfg.source,
                self.cfg.cursor_stream,
                ancestor.encode(),
                datetime.now(UTC),
            )
        report.reorgs += 1
        report.orphaned += len(orphans)
        log.warning(
            "chain %s reorg: %d stored block(s) above #%d orphaned",
            self.cfg.chain_id,
            len(orphans),
            ancestor.number,
        )
        # Block subscribers get the new branch's heads as they are stored; caches learn
        # about the rollback through the on-chain data version.
        await self._publish(
            channels.data_version("onchain"),
            {
                "domain": "onchain",
                "chain": self.cfg.chain_id,
                "reorg": {
                    "common_ancestor": ancestor.number,
                    "orphaned": [o.hash for o in sorted(orphans, key=lambda o: o.number)],
                },
            },
        )
        return ancestor

    async def _common_ancestor(self, cursor: Cursor) -> Cursor:
        """The highest stored canonical block the node still agrees with."""
        step = 16
        top = cursor.number
        floor = max(0, cursor.number - self.cfg.max_reorg_depth)
        while top >= floor:
            numbers = list(range(top, max(floor, top - step + 1) - 1, -1))
            node = await self.client.blocks(numbers)
            async with self.sessions() as session:
                stored = await repo.canonical_hashes(session, self.cfg.chain_id, numbers)
            for n, header in zip(numbers, node, strict=True):
                if n not in stored:
                    continue
                if header is not None and header.hash == stored[n]:
                    return Cursor(n, header.hash)
            top = numbers[-1] - 1
        log.error(
            "chain %s: no common ancestor within %d blocks; re-ingesting from #%d",
            self.cfg.chain_id,
            self.cfg.max_reorg_depth,
            floor,
        )
        header = await self.client.block(max(0, floor - 1))
        return Cursor(max(0, floor - 1), header.hash if header else "")

    # ------------------------------------------------------------------ publishing

    async def _publish_blocks(self, heads: list[Message]) -> None:
        if not heads:
            return
        for message in heads:
            await self._publish(channels.blocks(self.cfg.chain_id), message)
        await self._publish(
            channels.data_version("onchain"),
            {"domain": "onchain", "chain": self.cfg.chain_id, "block": heads[-1]["number"]},
        )

    async def _publish(self, channel: str, message: Message) -> None:
        """Notify after commit; a broker failure never undoes or blocks a stored write."""
        if self.broker is None:
            return
        try:
            await self.broker.publish(channel, message)
        except Exception as exc:  # the database is the record, the broker a notification
            self.publish_failures += 1
            log.warning("publish on %s failed: %s: %s", channel, type(exc).__name__, exc)

    def _head_message(self, h: BlockHeader, fees: BlockFees | None) -> Message:
        return messages.block_head(
            chain=self.cfg.chain_id,
            source=self.cfg.source,
            number=h.number,
            hash=h.hash,
            parent_hash=h.parent_hash,
            timestamp=h.timestamp,
            gas_used=h.gas_used,
            gas_limit=h.gas_limit,
            tx_count=h.tx_count or 0,
            base_fee_per_gas=h.base_fee_per_gas,
            priority_fee_p50=fees.priority_fees.get(50) if fees is not None else None,
        )

    def _add_totals(self, r: SyncReport) -> None:
        t = self.totals
        t.blocks += r.blocks
        t.transfers += r.transfers
        t.reorgs += r.reorgs
        t.orphaned += r.orphaned
        t.head = r.head
        t.last_stored = r.last_stored if r.last_stored is not None else t.last_stored

    # ------------------------------------------------------------------ live

    async def run(self) -> None:
        """Sync forever: on every head (WebSocket), after every reconnect, or by polling."""
        feed_task = asyncio.create_task(self._follow_heads()) if self.heads is not None else None
        try:
            while True:
                try:
                    await self.sync()
                except (SourceError, SQLAlchemyError, OSError) as exc:
                    # Upstream or database trouble: keep what is stored, try again next beat.
                    self.failures += 1
                    log.warning("ethereum sync of %s failed: %s", self.cfg.chain_id, exc)
                interval = (
                    self.cfg.ws_backstop_seconds if self.ws_connected else self.cfg.poll_seconds
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
                self._wake.clear()
        finally:
            if feed_task is not None:
                feed_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed_task

    async def _follow_heads(self) -> None:
        assert self.heads is not None
        async with contextlib.aclosing(self.heads.events()) as events:
            async for event in events:
                if isinstance(event, Connected):
                    # Nothing is replayed on a new subscription: backfill from the cursor.
                    self.ws_connected = True
                    self.connections += 1
                    self._wake.set()
                elif isinstance(event, NewHead):
                    self._wake.set()
                else:
                    self.ws_connected = False


__all__ = ["Cursor", "EthereumIngestConfig", "EthereumPump", "SyncReport"]
