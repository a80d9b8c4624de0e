"""The Ethereum pump as the server runs it: newHeads, the on-chain signal settings, shutdown.

A real anvil node (HTTP + WebSocket). Polling is set far slower than the test,
so only ``newHeads`` notifications can make new blocks appear in storage.
"""

from __future__ import annotations

from sqlalchemy import func, select

from ingest.live_feeds import EthereumFeed
from ingest.onchain_signals import SignalConfig
from sources.ethereum_ws import NewHeadsFeed
from storage.models import Block
from tests.conftest import make_settings
from tests.live.support import app_with_state, metric, samples, until


async def stored_head(db) -> int | None:
    async with db.sessions() as s:
        return (await s.execute(select(func.max(Block.number)))).scalar_one()


def eth_settings(db, anvil, **overrides):
    settings = {
        "ingest_enabled": True,
        "ingest_mode": "real",
        "ingest_coingecko_url": "",
        "ingest_binance_url": "",
        "ingest_coinbase_url": "",
        "eth_rpc_url": anvil.url,
        "eth_evm_chain_id": 31337,
        "eth_start_block": 0,
        "eth_poll_seconds": 120.0,
        "eth_token_contracts": [anvil.token],
        "onchain_gas_window_blocks": 7,
        "onchain_volume_bucket_seconds": 600,
        "onchain_volume_window_buckets": 5,
        "onchain_z_threshold": 2.5,
    }
    return make_settings(db.url, **{**settings, **overrides})


async def test_pump_follows_new_heads_uses_signal_settings_and_closes(db, anvil):
    settings = eth_settings(db, anvil, eth_ws_url=anvil.ws_url)
    async with app_with_state(settings) as (client, state):
        runner = state["services"]["ingest"]
        await until(lambda: runner.feeds)
        (feed,) = [f for f in runner.feeds if isinstance(f, EthereumFeed)]
        pump = feed.pump
        assert isinstance(pump.heads, NewHeadsFeed) and pump.heads.url == anvil.ws_url
        assert pump.cfg.signals == SignalConfig(
            gas_window=7, volume_bucket_seconds=600, volume_window=5, z_threshold=2.5
        )
        await until(lambda: pump.ws_connected)
        head = anvil.block_number()
        await until(lambda: _at_least(db, head))
        # Polling is two minutes away: these blocks can only arrive through newHeads.
        newer = anvil.mine(2)
        await until(lambda: _at_least(db, newer))

        ready = (await client.get("/readyz")).json()["checks"]["ingest"]["sources"]["ethereum"]
        assert ready["status"] == "ok" and ready["breaker"] == "closed"
        assert ready["chain"]["websocket_connected"] is True
        assert ready["chain"]["last_stored"] == newer
        found = samples((await client.get("/metrics")).text)
        assert metric(found, "cryptoql_chain_stored_block", chain="ethereum") == newer
        ok = metric(found, "cryptoql_source_requests_total", source="ethereum", outcome="ok")
        assert ok is not None and ok > 0
    # Shutdown closed the pump's JSON-RPC client.
    assert pump.client.rpc.http._client.is_closed


async def _at_least(db, number: int) -> bool:
    head = await stored_head(db)
    return head is not None and head >= number


async def test_without_a_websocket_url_the_pump_polls(db, anvil):
    settings = eth_settings(db, anvil, eth_ws_url="", eth_poll_seconds=0.2)
    async with app_with_state(settings) as (_client, state):
        runner = state["services"]["ingest"]
        await until(lambda: runner.feeds)
        (feed,) = [f for f in runner.feeds if isinstance(f, EthereumFeed)]
        assert feed.pump.heads is None
        newer = anvil.mine(2)
        await until(lambda: _at_least(db, newer))


async def test_a_pump_crash_is_restarted_and_reported(db, anvil):
    """A node on another chain makes the pump refuse to start: a crash the runner restarts."""
    settings = eth_settings(db, anvil, eth_ws_url="", eth_evm_chain_id=1)
    async with app_with_state(settings) as (client, state):
        runner = state["services"]["ingest"]
        await until(lambda: runner.restarts.get("ethereum", 0) >= 1)
        assert "serves chain 31337" in runner.crashes["ethereum"]
        check = (await client.get("/readyz")).json()["checks"]["ingest"]
        assert check["ok"] is True and check["restarts"]["ethereum"] >= 1
        found = samples((await client.get("/metrics")).text)
        restarts = metric(found, "cryptoql_ingest_feed_restarts_total", feed="ethereum")
        assert restarts is not None and restarts >= 1
    assert await stored_head(db) is None
