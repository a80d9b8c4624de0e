"""The Ethereum ingest pump against a real anvil node, on SQLite and PostgreSQL."""

import asyncio
import decimal
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ingest.ethereum import EthereumIngestConfig, EthereumPump
from ingest.onchain_signals import SignalConfig
from pubsub import channels
from pubsub.memory import MemoryBroker
from sources.ethereum import EthereumClient, EthereumRpc
from sources.ethereum_ws import NewHeadsFeed
from sources.ws_stream import StreamPolicy
from storage.models import Asset, Block, ChainMetric, Erc20Transfer, SignalValue
from storage.repositories import ingest as repo
from tests.onchain.wsproxy import WsProxy

CHAIN = "anvil"


@pytest.fixture
async def make_pump():
    """Build pumps on the test node; their HTTP clients are closed at teardown."""
    made: list[EthereumPump] = []

    def build(anvil, db, **kw) -> EthereumPump:
        made.append(_pump(anvil, db, **kw))
        return made[-1]

    yield build
    for pump in made:
        await pump.client.rpc.aclose()


def _pump(anvil, db, *, broker=None, heads=None, **overrides) -> EthereumPump:
    cfg = EthereumIngestConfig(
        chain_id=CHAIN,
        chain_name="Anvil",
        evm_chain_id=31337,
        source="anvil",
        start_block=0,
        batch_blocks=4,
        signals=SignalConfig(gas_window=10, min_samples=3, volume_window=6),
        **overrides,
    )
    client = EthereumClient(EthereumRpc(anvil.url), log_page_blocks=8)
    return EthereumPump(client, db.sessions, cfg, broker=broker, heads=heads)


def wide_decimals():
    """Reads of uint256 values need more than Decimal's default 28 digits of context.

    storage.types.canonical_decimal quantizes under the ambient context and raises
    InvalidOperation past 28 digits (reported to the lead); reading under a wide
    context keeps these tests about ingest, not about that read-side bug.
    """
    return decimal.localcontext(prec=100)


async def rows(db, stmt):
    with wide_decimals():
        async with db.sessions() as s:
            return (await s.execute(stmt)).all()


async def canonical_blocks(db) -> dict[int, Block]:
    with wide_decimals():
        async with db.sessions() as s:
            stmt = select(Block).where(Block.canonical.is_(True))
            found = (await s.execute(stmt)).scalars().all()
    return {b.number: b for b in found}


async def cursor(db) -> str | None:
    async with db.sessions() as s:
        return await repo.get_cursor(s, "anvil", f"blocks:{CHAIN}")


async def test_sync_stores_blocks_fees_transfers_metrics_and_cursor(db, anvil, make_pump):
    a = anvil.accounts
    anvil.transfer_many(a[0], [a[1], a[2], a[3]], [10**18, 5 * 10**29, 7])
    anvil.mint(a[2], 2**200 + 1)
    anvil.mine(2)
    anvil.mint_nft(a[4], 1)
    anvil.transfer(a[1], a[5], 10**18 - 1)
    head = anvil.block_number()
    broker = MemoryBroker()
    pump = make_pump(anvil, db, broker=broker)
    report = await pump.sync()
    assert report.blocks == head + 1
    assert report.transfers == 6

    stored = await canonical_blocks(db)
    assert sorted(stored) == list(range(head + 1))
    fh = anvil.rpc("eth_feeHistory", [hex(head), hex(head), [10, 50, 90]])
    for n, b in stored.items():
        raw = anvil.block(n)
        assert (b.hash, b.parent_hash) == (raw["hash"], raw["parentHash"])
        assert b.gas_used == Decimal(int(raw["gasUsed"], 16))
        assert b.base_fee_per_gas == Decimal(int(raw["baseFeePerGas"], 16))
        assert b.tx_count == len(raw["transactions"])
        assert b.source == "anvil"
        if n >= 1:
            p10, p50, p90 = (Decimal(int(x, 16)) for x in fh["reward"][n - 1])
            assert (b.priority_fee_p10, b.priority_fee_p50, b.priority_fee_p90) == (p10, p50, p90)

    transfers = await rows(
        db,
        select(Erc20Transfer.to_address, Erc20Transfer.value, Erc20Transfer.block_hash)
        .where(Erc20Transfer.contract_address == anvil.token)
        .order_by(Erc20Transfer.block_number, Erc20Transfer.log_index),
    )
    assert [(t, v) for t, v, _ in transfers] == [
        (a[0], Decimal(10**30)),  # the deploy mint
        (a[1], Decimal(10**18)),
        (a[2], Decimal(5 * 10**29)),
        (a[3], Decimal(7)),
        (a[2], Decimal(2**200 + 1)),  # exact to the last unit
        (a[5], Decimal(10**18 - 1)),
    ]
    assert all(stored[anvil_n].hash == h for anvil_n, h in _numbers(transfers, stored))
    nft_rows = await rows(
        db, select(Erc20Transfer.id).where(Erc20Transfer.contract_address == anvil.nft)
    )
    assert nft_rows == []

    metrics = await rows(
        db,
        select(ChainMetric.kind, func.count())
        .where(ChainMetric.source == "anvil")
        .group_by(ChainMetric.kind),
    )
    counts = dict(metrics)
    assert counts["base_fee"] == counts["tx_count"] == counts["transfer_count"] == head + 1
    tip = anvil.block(head)
    assert await cursor(db) == f"{head}:{tip['hash']}"

    events = await broker.replay(channels.blocks(CHAIN), 0)
    assert [e.data["number"] for e in events] == list(range(head + 1))
    assert events[-1].data["hash"] == tip["hash"]


def _numbers(transfers, stored):
    by_hash = {b.hash: n for n, b in stored.items()}
    return [(by_hash[h], h) for _, _, h in transfers]


async def test_resync_and_replay_write_nothing_twice(db, anvil, make_pump):
    anvil.transfer_many(anvil.accounts[0], anvil.accounts[1:4], [1, 2, 3])
    anvil.mine(5)
    pump = make_pump(anvil, db)
    await pump.sync()
    before = [await _count(db, m) for m in (Block, Erc20Transfer, ChainMetric, SignalValue)]
    again = await pump.sync()
    assert again.blocks == 0
    # Rewind the cursor (as after a crash between commit and acknowledgement) and replay.
    async with db.sessions.begin() as s:
        first = (await s.execute(select(Block.hash).where(Block.number == 1))).scalar_one()
        await repo.set_cursor(s, "anvil", f"blocks:{CHAIN}", f"1:{first}", datetime.now(UTC))
    replayed = await pump.sync()
    assert replayed.blocks == anvil.block_number() - 1
    after = [await _count(db, m) for m in (Block, Erc20Transfer, ChainMetric, SignalValue)]
    assert after == before


async def _count(db, model) -> int:
    async with db.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_reorg_orphans_blocks_and_replaces_their_transfers(db, anvil, make_pump):
    a = anvil.accounts
    anvil.mine(2)
    fork_point = anvil.block_number()
    snap = anvil.rpc("evm_snapshot")
    anvil.transfer(a[0], a[1], 111)
    anvil.mine(1)
    broker = MemoryBroker()
    pump = make_pump(anvil, db, broker=broker)
    await pump.sync()
    old = await canonical_blocks(db)
    old_tip = old[fork_point + 2].hash

    # Replace the last two blocks with a different branch of the same height.
    assert anvil.rpc("evm_revert", [snap]) is True
    anvil.transfer(a[0], a[2], 222)
    anvil.mine(1)
    assert anvil.block_number() == fork_point + 2
    assert anvil.block(fork_point + 2)["hash"] != old_tip
    report = await pump.sync()
    assert (report.reorgs, report.orphaned) == (1, 2)

    new = await canonical_blocks(db)
    assert sorted(new) == list(range(fork_point + 3))
    for n in (fork_point + 1, fork_point + 2):
        assert new[n].hash == anvil.block(n)["hash"] != old[n].hash
    orphans = await rows(
        db, select(Block.number).where(Block.canonical.is_(False)).order_by(Block.number)
    )
    assert [n for (n,) in orphans] == [fork_point + 1, fork_point + 2]
    moved = await rows(
        db,
        select(Erc20Transfer.to_address, Erc20Transfer.value, Erc20Transfer.block_hash).where(
            Erc20Transfer.block_number > fork_point
        ),
    )
    assert moved == [(a[2], Decimal(222), new[fork_point + 1].hash)]  # 111 went with its block
    assert await cursor(db) == f"{fork_point + 2}:{new[fork_point + 2].hash}"
    tx_counts = dict(
        await rows(
            db,
            select(ChainMetric.ts, ChainMetric.value).where(ChainMetric.kind == "tx_count"),
        )
    )
    assert tx_counts[new[fork_point + 1].timestamp] == Decimal(1)
    assert len(tx_counts) == fork_point + 3  # no metric of an orphan survives
    versions = [e.data for e in await broker.replay(channels.data_version("onchain"), 0)]
    (reorg,) = [v["reorg"] for v in versions if "reorg" in v]
    assert reorg == {
        "common_ancestor": fork_point,
        "orphaned": [old[fork_point + 1].hash, old[fork_point + 2].hash],
    }
    heads = [e.data["number"] for e in await broker.replay(channels.blocks(CHAIN), 0)]
    assert heads[-2:] == [fork_point + 1, fork_point + 2]  # the new branch, announced

    # The branch then grows: the pump simply continues on it.
    anvil.mine(2)
    assert (await pump.sync()).reorgs == 0
    assert sorted(await canonical_blocks(db)) == list(range(fork_point + 5))


async def test_gas_spike_is_flagged_for_the_native_asset(db, anvil, make_pump):
    async with db.sessions.begin() as s:
        s.add(
            Asset(canonical_id="anvil-eth", symbol="ETH", name="Anvil Ether", native_chain_id=CHAIN)
        )
    anvil.transfer(anvil.accounts[0], anvil.accounts[1], 1)
    anvil.mine(12)
    pump = make_pump(anvil, db)
    await pump.sync()
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(500 * 10**9)])
    anvil.mine(1)
    await pump.sync()
    head = anvil.block_number()
    tip = (await canonical_blocks(db))[head]
    z_rows = await rows(
        db,
        select(ChainMetric.value).where(
            ChainMetric.kind == "base_fee_z", ChainMetric.ts == tip.timestamp
        ),
    )
    assert z_rows
    assert z_rows[0][0] > 3
    signal = (
        await rows(
            db,
            select(SignalValue)
            .where(SignalValue.kind == "gas_spike")
            .order_by(SignalValue.computed_at.desc()),
        )
    )[0][0]
    assert signal.value == z_rows[0][0]
    assert signal.details["spike"] is True
    assert signal.details["block"] == head
    assert signal.direction == "neutral"
    assert signal.computed_at == tip.timestamp


async def test_new_heads_reconnect_backfills_without_a_gap(db, anvil, make_pump):
    anvil.mine(3)
    broker = MemoryBroker()
    async with WsProxy(anvil.ws_url) as proxy:
        heads = NewHeadsFeed(
            proxy.url, StreamPolicy(backoff_base=0.05, backoff_cap=0.2, idle_timeout=30)
        )
        # Polling is slower than the whole test: only heads and reconnects can drive syncs.
        pump = make_pump(
            anvil, db, broker=broker, heads=heads, poll_seconds=60, ws_backstop_seconds=60
        )
        task = asyncio.create_task(pump.run())
        try:
            await until(lambda: pump.connections == 1)
            await until_stored(db, anvil.block_number())
            await until_stored(db, anvil.mine(1))  # a live head

            proxy.drop()  # the network goes away; blocks keep coming
            await until(lambda: proxy.refused >= 1 or not pump.ws_connected)
            missed_to = anvil.mine(4)
            proxy.restore()
            await until(lambda: pump.connections == 2)
            await until_stored(db, missed_to)  # backfilled after the reconnect
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    stored = await canonical_blocks(db)
    assert sorted(stored) == list(range(anvil.block_number() + 1))
    assert heads.stats.reconnects >= 1
    numbers = [e.data["number"] for e in await broker.replay(channels.blocks(CHAIN), 0)]
    assert numbers == list(range(anvil.block_number() + 1))  # every head published once, in order


async def until(predicate, within: float = 10.0) -> None:
    """Poll a condition other tasks make true (bounded: fails the test after ``within`` s)."""
    async with asyncio.timeout(within):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)


async def until_stored(db, number: int, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while True:
            raw = await cursor(db)
            if raw is not None and int(raw.split(":")[0]) >= number:
                return
            await asyncio.sleep(0.05)
