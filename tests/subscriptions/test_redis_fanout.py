"""Redis: several server processes deliver one stream; the listener survives Redis blips."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from pubsub import channels, messages
from pubsub.factory import running_broker
from pubsub.redis import RedisBroker
from tests.conftest import REDIS_TEST_URL
from tests.server.conftest import live_server
from tests.subscriptions.conftest import PRICES, unique_namespace, until, ws_client


def _tick(asset: str, price: int) -> dict[str, Any]:
    return messages.price_tick(
        asset=asset,
        quote="USD",
        source="feed",
        price=Decimal(price),
        observed_at=datetime.now(UTC),
    )


@pytest.mark.slow
async def test_one_publish_reaches_subscribers_on_two_server_processes(
    seeded_db: str, tmp_path: Path
) -> None:
    ns = unique_namespace()
    settings = {
        "redis_url": REDIS_TEST_URL,
        "pubsub_namespace": ns,
        "key_invalidation_channel": f"{ns}keys",
        "cost_redis_prefix": f"{ns}budget:",
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        live_server(seeded_db, tmp_path / "a", **settings) as a,
        live_server(seeded_db, tmp_path / "b", **settings) as b,
    ):
        async with (
            running_broker(REDIS_TEST_URL, namespace=ns) as feed,
            ws_client(a.ws) as ca,
            ws_client(b.ws) as cb,
        ):
            await ca.init()
            await cb.init()
            await ca.subscribe("1", PRICES, {"ids": ["bitcoin"]})
            await cb.subscribe("1", PRICES, {"ids": ["bitcoin"]})
            ch = channels.prices("bitcoin")
            # Until both processes' topics are live, warm-up ticks may fall before them.
            for client in (ca, cb):
                for attempt in range(100):
                    await feed.publish(ch, _tick("bitcoin", 1))
                    try:
                        await client.recv(wait=0.2)
                        break
                    except TimeoutError:
                        assert attempt < 99
            await asyncio.sleep(0.3)  # let conflated warm-up frames drain
            for client in (ca, cb):
                while True:
                    try:
                        await client.recv(wait=0.2)
                    except TimeoutError:
                        break
            seq = await feed.publish(ch, _tick("bitcoin", 424242))
            got_a = (await ca.recv())["payload"]["data"]["prices"]
            got_b = (await cb.recv())["payload"]["data"]["prices"]
    assert got_a["seq"] == got_b["seq"] == seq
    assert got_a["tick"]["price"] == got_b["tick"]["price"] == "424242"
    assert got_a["cursor"] == got_b["cursor"]


async def _kill_listener(broker: RedisBroker) -> int:
    """Kill this broker's pub/sub connection (found by its client name), nobody else's."""
    admin = Redis.from_url(REDIS_TEST_URL)
    try:
        killed = 0
        for client in await admin.client_list():
            if client.get("name") == broker.client_name and "P" in client.get("flags", ""):
                await admin.client_kill_filter(_id=client["id"])
                killed += 1
        return killed
    finally:
        await admin.aclose()


async def test_listener_reconnects_resubscribes_and_fills_the_gap() -> None:
    ns = unique_namespace()
    async with (
        running_broker(REDIS_TEST_URL, namespace=ns) as sub_side,
        running_broker(REDIS_TEST_URL, namespace=ns) as pub_side,
    ):
        assert isinstance(sub_side, RedisBroker)
        ch = channels.blocks("ethereum")
        received: list[int] = []
        async with sub_side.subscribe(ch) as events:

            async def consume() -> None:
                async for ev in events:
                    received.append(ev.seq)

            task = asyncio.create_task(consume())
            try:
                await pub_side.publish(ch, {"n": 1})
                await until(lambda: received == [1])
                assert await _kill_listener(sub_side) == 1
                # Published while the listener is down or reconnecting: must not be lost.
                for n in range(2, 6):
                    await pub_side.publish(ch, {"n": n})
                await until(lambda: sub_side.reconnects >= 1 and sub_side.connected)
                await pub_side.publish(ch, {"n": 6})
                await until(lambda: len(received) >= 6)
            finally:
                task.cancel()
    assert received == [1, 2, 3, 4, 5, 6]
    assert sub_side.health()["reconnects"] >= 1


async def test_readyz_reports_the_listener(seeded_db: str, tmp_path: Path) -> None:
    from app.main import create_app
    from tests.conftest import make_settings, running_app

    ns = unique_namespace()
    app = create_app(
        make_settings(
            seeded_db,
            data_dir=tmp_path,
            redis_url=REDIS_TEST_URL,
            pubsub_namespace=ns,
            key_invalidation_channel=f"{ns}keys",
            cost_redis_prefix=f"{ns}budget:",
        )
    )
    async with running_app(app) as client:
        body = (await client.get("/readyz")).json()
    check = body["checks"]["broker"]
    assert check["ok"] is True
    assert check["backend"] == "redis"
    assert check["reconnects"] == 0


async def test_redis_down_at_start_is_not_ready_and_recovers_nothing_silently() -> None:
    async with running_broker("redis://127.0.0.1:1/0", namespace=unique_namespace()) as broker:
        health = broker.health()
        assert health["ok"] is False
        assert health["last_error"]
        from pubsub.broker import BrokerUnavailable

        with pytest.raises(BrokerUnavailable):
            await broker.publish("x", {})
        with pytest.raises(BrokerUnavailable):
            async with broker.subscribe("x"):
                pass
