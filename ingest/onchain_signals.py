"""On-chain signals: gas (base fee) spikes and ERC-20 transfer-volume anomalies as z-scores.

Method (also in ``docs/onchain.md``):

- **Gas spike.** For each stored block, ``z = (fee - mean) / sd`` where ``fee`` is
  the block's base fee and ``mean``/``sd`` (sample standard deviation) are taken
  over the previous ``gas_window`` canonical blocks (default 100, about 20
  minutes of mainnet). Every block's z goes to ``chain_metrics`` (kind
  ``base_fee_z``); the newest block of each ingest batch also gives a
  ``signal_values`` row of kind ``gas_spike`` for the chain's native asset,
  with ``details.spike`` true when ``z >= z_threshold`` (default 3).
- **Transfer-volume anomaly.** Per registered token contract (``token_contracts``
  of the chain), transfers are summed per ``volume_bucket_seconds`` bucket
  (default one hour). For each bucket that became complete in a batch (a
  block at or after its end was stored), ``z`` compares its volume with the
  previous ``volume_window`` buckets (default 24; a bucket without transfers
  counts as zero). Stored in ``signal_values`` (kind ``transfer_volume_z``)
  for the token's asset at the bucket's end, ``details.anomaly`` true when
  ``|z| >= z_threshold``.

Stored values are clamped to ±10⁶ (beyond that a z-score carries no more
information). A z-score needs spread: with fewer than ``min_samples`` points of history, or a
history of identical values (sd = 0), no value is stored rather than a
made-up one. Direction is always ``neutral``: these flag unusual activity;
they do not predict price. Recomputing a point overwrites it (idempotent).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from storage.records import ChainMetricRecord, SignalRecord
from storage.repositories import onchain_writes as repo
from storage.repositories.ingest import upsert_signals

GAS_METRIC = "base_fee_z"
GAS_SIGNAL = "gas_spike"
VOLUME_SIGNAL = "transfer_volume_z"
#: Stored z-scores are clamped here: beyond it a z says nothing more, and it keeps the value
#: inside the signal column's precision (a lone huge transfer after a quiet day can give 1e20).
Z_CAP = 1e6
#: Buckets evaluated per batch at most (a sparse dev chain can span years in one batch).
MAX_BUCKETS_PER_BATCH = 500


@dataclass(frozen=True, slots=True)
class SignalConfig:
    source: str = "cryptoql"
    gas_window: int = 100
    volume_bucket_seconds: int = 3600
    volume_window: int = 24
    z_threshold: float = 3.0
    min_samples: int = 10


@dataclass(frozen=True, slots=True)
class ZScore:
    z: float
    mean: float
    sd: float
    n: int


def zscore(value: float, history: Sequence[float], min_samples: int = 2) -> ZScore | None:
    """The z-score of ``value`` against ``history`` (sample sd), or ``None`` when undefined."""
    if len(history) < max(2, min_samples):
        return None
    mean = statistics.fmean(history)
    sd = statistics.stdev(history, mean)
    if sd == 0:
        return None
    return ZScore((value - mean) / sd, mean, sd, len(history))


def _dec(z: float) -> Decimal:
    """A z-score for storage: six decimals, clamped to ``±Z_CAP``."""
    return Decimal(repr(round(max(-Z_CAP, min(Z_CAP, z)), 6)))


def horizon_label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


async def gas_signals(
    session: AsyncSession,
    cfg: SignalConfig,
    *,
    chain_id: str,
    metric_source: str,
    blocks: Sequence[repo.BlockRow],
) -> int:
    """Write ``base_fee_z`` for ``blocks`` (already stored) and a ``gas_spike`` signal."""
    with_fee = [b for b in blocks if b.base_fee_per_gas is not None]
    if not with_fee:
        return 0
    last = max(b.number for b in with_fee)
    series = await repo.latest_canonical_fees(session, chain_id, last, cfg.gas_window + len(blocks))
    numbers = [n for n, _ in series]
    fees = [float(f) for _, f in series]
    by_number = {b.number: b for b in with_fee}
    metrics: list[ChainMetricRecord] = []
    newest: tuple[repo.BlockRow, ZScore] | None = None
    for i, n in enumerate(numbers):
        block = by_number.get(n)
        if block is None:
            continue
        z = zscore(fees[i], fees[max(0, i - cfg.gas_window) : i], cfg.min_samples)
        if z is None:
            continue
        metrics.append(
            ChainMetricRecord(metric_source, chain_id, GAS_METRIC, block.timestamp, _dec(z.z))
        )
        newest = (block, z)
    await repo.upsert_chain_metrics(session, metrics)
    asset_id = await repo.native_asset_id(session, chain_id) if newest else None
    if newest is not None and asset_id is not None:
        block, z = newest
        details = {
            "chain": chain_id,
            "block": block.number,
            "base_fee_wei": str(block.base_fee_per_gas),
            "mean_wei": round(z.mean),
            "sd_wei": round(z.sd),
            "window_blocks": z.n,
            "threshold": cfg.z_threshold,
            "spike": z.z >= cfg.z_threshold,
        }
        await upsert_signals(
            session,
            [
                SignalRecord(
                    cfg.source,
                    asset_id,
                    GAS_SIGNAL,
                    _dec(z.z),
                    "neutral",
                    "block",
                    block.timestamp,
                    details,
                )
            ],
        )
    return len(metrics)


def completed_buckets(first_ts: datetime, last_ts: datetime, bucket_seconds: int) -> list[int]:
    """Buckets whose end falls in ``(first_ts - bucket, last_ts]``: newly complete in a batch."""
    lo = int(first_ts.timestamp()) - bucket_seconds
    hi = int(last_ts.timestamp())
    first_b = lo // bucket_seconds  # bucket b ends at (b + 1) * size
    last_b = hi // bucket_seconds - 1
    buckets = [b for b in range(first_b, last_b + 1) if lo < (b + 1) * bucket_seconds <= hi]
    return buckets[-MAX_BUCKETS_PER_BATCH:]


async def volume_signals(
    session: AsyncSession,
    cfg: SignalConfig,
    *,
    chain_id: str,
    first_ts: datetime,
    last_ts: datetime,
) -> int:
    """``transfer_volume_z`` for every registered token and every bucket completed in the batch."""
    size = cfg.volume_bucket_seconds
    buckets = completed_buckets(first_ts, last_ts, size)
    tokens = await repo.token_assets(session, chain_id) if buckets else {}
    rows: list[SignalRecord] = []
    for contract, asset_id in sorted(tokens.items()):
        start = datetime.fromtimestamp((buckets[0] - cfg.volume_window) * size, tz=UTC)
        end = datetime.fromtimestamp((buckets[-1] + 1) * size, tz=UTC)
        volumes = await repo.transfer_volume_buckets(session, chain_id, contract, start, end, size)
        for b in buckets:
            history = [volumes.get(k, 0.0) for k in range(b - cfg.volume_window, b)]
            value = volumes.get(b, 0.0)
            z = zscore(value, history, cfg.min_samples)
            if z is None:
                continue
            details = {
                "chain": chain_id,
                "contract": contract,
                "volume_raw": f"{value:.0f}",
                "mean_raw": f"{z.mean:.0f}",
                "sd_raw": f"{z.sd:.0f}",
                "window_buckets": cfg.volume_window,
                "bucket_seconds": size,
                "threshold": cfg.z_threshold,
                "anomaly": abs(z.z) >= cfg.z_threshold,
            }
            computed_at = datetime.fromtimestamp((b + 1) * size, tz=UTC)
            rows.append(
                SignalRecord(
                    cfg.source,
                    asset_id,
                    VOLUME_SIGNAL,
                    _dec(z.z),
                    "neutral",
                    horizon_label(size),
                    computed_at,
                    details,
                )
            )
    await upsert_signals(session, rows)
    return len(rows)


__all__ = [
    "GAS_METRIC",
    "GAS_SIGNAL",
    "VOLUME_SIGNAL",
    "SignalConfig",
    "ZScore",
    "completed_buckets",
    "gas_signals",
    "horizon_label",
    "volume_signals",
    "zscore",
]
