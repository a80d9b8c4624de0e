"""Turning fetched chain data into storage rows, and the checks that keep a batch coherent.

Split from :mod:`ingest.ethereum` so the pump reads as control flow. Quantities
arrive as exact ``int`` and are stored as exact ``Decimal``; per-block chain
metrics are keyed by the block timestamp (on a dev chain that mines several
blocks in one second, the last of them wins the shared timestamp).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sources.ethereum import BlockRange
from sources.ethereum_records import BlockFees, BlockHeader, TransferLog
from storage.records import ChainMetricRecord, TransferRecord
from storage.repositories import onchain_writes as repo

#: Per-block chain metric kinds (``chain_metrics.kind``).
BLOCK_METRICS = ("base_fee", "gas_used_ratio", "tx_count", "transfer_count")


class RowSource(Protocol):
    """What the row builders need to know about the ingest configuration."""

    @property
    def source(self) -> str: ...

    @property
    def chain_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Cursor:
    number: int
    hash: str

    def encode(self) -> str:
        return f"{self.number}:{self.hash}"

    @classmethod
    def decode(cls, raw: str | None) -> Cursor | None:
        if not raw:
            return None
        number, _, block_hash = raw.partition(":")
        return cls(int(number), block_hash)


class ChainMoved(Exception):
    """The node's chain changed while a batch was being fetched: fetch it again."""


def contiguous_prefix(rng: BlockRange, start: int) -> list[BlockHeader]:
    """Headers from ``start`` while numbers are consecutive and parents link up."""
    by_number = {h.number: h for h in rng.headers}
    out: list[BlockHeader] = []
    n = start
    while n in by_number:
        h = by_number[n]
        if out and h.parent_hash != out[-1].hash:
            break  # the node switched branches mid-batch; the rest comes next pass
        out.append(h)
        n += 1
    return out


def check_consistent(headers: list[BlockHeader], logs: list[TransferLog]) -> None:
    hashes = {h.number: h.hash for h in headers}
    for t in logs:
        if hashes.get(t.block_number) != t.block_hash:
            raise ChainMoved(f"log of block #{t.block_number} has hash {t.block_hash[:12]}")


def _dec(v: int | None) -> Decimal | None:
    return None if v is None else Decimal(v)


def block_row(cfg: RowSource, h: BlockHeader, fees: BlockFees | None) -> repo.BlockRow:
    prio = fees.priority_fees if fees is not None else {}
    return repo.BlockRow(
        source=cfg.source,
        chain_id=cfg.chain_id,
        number=h.number,
        hash=h.hash,
        parent_hash=h.parent_hash,
        timestamp=h.timestamp,
        gas_used=Decimal(h.gas_used),
        gas_limit=Decimal(h.gas_limit),
        base_fee_per_gas=_dec(h.base_fee_per_gas),
        tx_count=h.tx_count or 0,
        priority_fee_p10=_dec(prio.get(10)),
        priority_fee_p50=_dec(prio.get(50)),
        priority_fee_p90=_dec(prio.get(90)),
    )


def transfer_row(cfg: RowSource, t: TransferLog, block_ts: datetime) -> TransferRecord:
    return TransferRecord(
        source=cfg.source,
        chain_id=cfg.chain_id,
        block_number=t.block_number,
        block_hash=t.block_hash,
        tx_hash=t.tx_hash,
        log_index=t.log_index,
        contract_address=t.contract,
        from_address=t.from_address,
        to_address=t.to_address,
        value=Decimal(t.value),
        timestamp=t.block_timestamp or block_ts,
    )


def block_metrics(cfg: RowSource, b: repo.BlockRow, transfers: int) -> list[ChainMetricRecord]:
    ratio = (b.gas_used / b.gas_limit).quantize(Decimal("1e-8")) if b.gas_limit else Decimal(0)
    values: dict[str, Decimal | None] = {
        "base_fee": b.base_fee_per_gas,
        "gas_used_ratio": ratio,
        "tx_count": Decimal(b.tx_count),
        "transfer_count": Decimal(transfers),
    }
    return [
        ChainMetricRecord(cfg.source, cfg.chain_id, kind, b.timestamp, v)
        for kind, v in values.items()
        if v is not None
    ]


__all__ = [
    "BLOCK_METRICS",
    "ChainMoved",
    "Cursor",
    "block_metrics",
    "block_row",
    "check_consistent",
    "contiguous_prefix",
    "transfer_row",
]
