"""On-chain signals: the z-score rules, and transfer-volume anomalies end to end on anvil."""

import decimal
import statistics
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from ingest.ethereum import EthereumIngestConfig, EthereumPump
from ingest.onchain_signals import SignalConfig, _dec, completed_buckets, horizon_label, zscore
from sources.ethereum import EthereumClient, EthereumRpc
from storage.models import Asset, SignalValue, TokenContract


def test_zscore_uses_the_sample_standard_deviation():
    z = zscore(10.0, [1.0, 2.0, 3.0, 4.0])
    assert z is not None
    assert z.mean == 2.5
    assert z.sd == pytest.approx(statistics.stdev([1, 2, 3, 4]))
    assert z.z == pytest.approx((10 - 2.5) / statistics.stdev([1, 2, 3, 4]))


def test_zscore_is_undefined_without_spread_or_history():
    assert zscore(5.0, [2.0, 2.0, 2.0]) is None  # sd = 0: no made-up value
    assert zscore(5.0, [1.0]) is None
    assert zscore(5.0, [1.0, 2.0, 3.0], min_samples=4) is None


def ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def test_completed_buckets_are_those_ending_inside_the_batch():
    # Buckets of 60 s: a batch whose blocks span 130..250 completes the buckets
    # ending at 180, 240 (and 120, which the previous batch's last block may not have reached).
    assert completed_buckets(ts(130), ts(250), 60) == [1, 2, 3]
    assert completed_buckets(ts(130), ts(179), 60) == [1]
    assert completed_buckets(ts(240), ts(240), 60) == [3]


def test_stored_z_is_clamped():
    assert _dec(5.3e22) == Decimal("1000000.0")
    assert _dec(-2.0000004) == Decimal("-2.0")
    assert _dec(1.2345678) == Decimal("1.234568")


def test_horizon_labels():
    assert [horizon_label(s) for s in (3600, 86400, 300, 45)] == ["1h", "1d", "5m", "45s"]


async def test_transfer_volume_anomaly_matches_an_independent_computation(db, anvil):
    a = anvil.accounts
    for i in range(40):
        value = 10**4 if i == 33 else 100 + (i * 37) % 50
        anvil.transfer(a[0], a[1 + i % 3], value)
    anvil.mine(6)  # complete the last bucket
    cfg = EthereumIngestConfig(
        chain_id="anvil",
        evm_chain_id=31337,
        source="anvil",
        start_block=0,
        batch_blocks=7,
        signals=SignalConfig(volume_bucket_seconds=60, volume_window=6, min_samples=3),
    )
    rpc = EthereumRpc(anvil.url)
    pump = EthereumPump(EthereumClient(rpc), db.sessions, cfg)
    try:
        await pump.prepare()
        async with db.sessions.begin() as s:
            asset = Asset(
                canonical_id="eip155:31337/erc20:" + anvil.token,
                symbol="CQT",
                name="CQT",
                kind="token",
            )
            s.add(asset)
            await s.flush()
            s.add(
                TokenContract(asset_id=asset.id, chain_id="anvil", address=anvil.token, decimals=18)
            )
        await pump.sync()
    finally:
        await rpc.aclose()

    expected = _expected_z(anvil, bucket=60, window=6, min_samples=3)
    with decimal.localcontext(prec=100):
        async with db.sessions() as s:
            stored = (
                (
                    await s.execute(
                        select(SignalValue)
                        .where(
                            SignalValue.kind == "transfer_volume_z",
                            SignalValue.asset_id == asset.id,
                        )
                        .order_by(SignalValue.computed_at)
                    )
                )
                .scalars()
                .all()
            )
    assert {sv.computed_at: float(sv.value) for sv in stored} == pytest.approx(expected, abs=1e-5)
    flagged = [sv for sv in stored if sv.details["anomaly"]]
    spike_ts = _block_ts(anvil, _block_of_value(anvil, 10**4))
    assert len(flagged) == 1
    assert flagged[0].computed_at == ts((int(spike_ts.timestamp()) // 60 + 1) * 60)
    assert flagged[0].horizon == "1m"
    assert flagged[0].direction == "neutral"


def _block_ts(anvil, number: int) -> datetime:
    return ts(int(anvil.block(number)["timestamp"], 16))


def _transfers(anvil) -> list[tuple[int, int]]:
    topic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    logs = anvil.rpc(
        "eth_getLogs",
        [{"fromBlock": "0x0", "toBlock": "latest", "address": anvil.token, "topics": [topic]}],
    )
    return [(int(lg["blockNumber"], 16), int(lg["data"], 16)) for lg in logs]


def _block_of_value(anvil, value: int) -> int:
    return next(n for n, v in _transfers(anvil) if v == value)


def _expected_z(anvil, *, bucket: int, window: int, min_samples: int) -> dict[datetime, float]:
    """The method of docs/onchain.md, computed from the node's own logs and timestamps."""
    volumes: dict[int, float] = {}
    for number, value in _transfers(anvil):
        b = int(_block_ts(anvil, number).timestamp()) // bucket
        volumes[b] = volumes.get(b, 0.0) + float(value)
    first = int(_block_ts(anvil, 0).timestamp())
    last = int(_block_ts(anvil, anvil.block_number()).timestamp())
    out: dict[datetime, float] = {}
    for b in range((first - bucket) // bucket, last // bucket):
        end = (b + 1) * bucket
        if not first - bucket < end <= last:
            continue
        history = [volumes.get(k, 0.0) for k in range(b - window, b)]
        if len(history) < min_samples or statistics.stdev(history) == 0:
            continue
        out[ts(end)] = (volumes.get(b, 0.0) - statistics.fmean(history)) / statistics.stdev(history)
    return out
