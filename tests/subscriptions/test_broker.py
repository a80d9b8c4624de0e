"""The Broker contract on both backends: numbering, delivery, replay window, lag."""

from __future__ import annotations

import asyncio
from datetime import UTC
from decimal import Decimal

import pytest

from pubsub import channels
from pubsub.broker import Event, ReplayWindowExceeded, SubscriptionLagged
from pubsub.memory import MemoryBroker
from pubsub.redis import RedisBroker

AnyBroker = MemoryBroker | RedisBroker


async def take(events: object, n: int, wait: float = 5.0) -> list[Event]:
    out: list[Event] = []
    async with asyncio.timeout(wait):
        async for ev in events:  # type: ignore[attr-defined]
            out.append(ev)
            if len(out) == n:
                break
    return out


async def test_seq_is_per_channel_and_events_arrive_in_order(broker: AnyBroker) -> None:
    a, b = channels.prices("bitcoin"), channels.prices("ethereum")
    async with broker.subscribe(a, b) as events:
        seqs = [await broker.publish(a, {"i": i}) for i in range(3)]
        seqs.append(await broker.publish(b, {"i": 99}))
        got = await take(events, 4)
    assert seqs == [1, 2, 3, 1]
    assert [(e.channel, e.seq, e.data["i"]) for e in got] == [
        (a, 1, 0),
        (a, 2, 1),
        (a, 3, 2),
        (b, 1, 99),
    ]
    assert all(e.ts.tzinfo is UTC for e in got)
    assert await broker.last_seq(a) == 3
    assert await broker.last_seq(channels.prices("nothing")) == 0


async def test_payload_round_trips_as_json(broker: AnyBroker) -> None:
    ch = channels.prices("bitcoin")
    async with broker.subscribe(ch) as events:
        msg = {"price": Decimal("65000.123456789012345"), "ts": "x"}
        await broker.publish(ch, msg)
        msg["price"] = Decimal(0)  # mutating after publish must not change what was sent
        (ev,) = await take(events, 1)
    assert ev.data == {"price": "65000.123456789012345", "ts": "x"}
    (stored,) = await broker.replay(ch, 0)
    assert stored.data == ev.data
    assert stored.seq == ev.seq


async def test_replay_returns_exactly_the_events_after_the_cursor(broker: AnyBroker) -> None:
    ch = channels.blocks("1")
    for i in range(10):
        await broker.publish(ch, {"n": i})
    got = await broker.replay(ch, 6)
    assert [e.seq for e in got] == [7, 8, 9, 10]
    assert [e.data["n"] for e in got] == [6, 7, 8, 9]
    assert await broker.replay(ch, 10) == []


async def test_replay_beyond_the_window_or_from_the_future_is_refused(broker: AnyBroker) -> None:
    ch = channels.blocks("1")
    for i in range(60):  # window is 50
        await broker.publish(ch, {"n": i})
    assert [e.seq for e in await broker.replay(ch, 10)][:2] == [11, 12]
    with pytest.raises(ReplayWindowExceeded) as err:
        await broker.replay(ch, 9)
    assert err.value.oldest == 11
    with pytest.raises(ReplayWindowExceeded):
        await broker.replay(ch, 61)  # a cursor from another epoch
    with pytest.raises(ReplayWindowExceeded):
        await broker.replay(channels.blocks("never"), 3)


async def test_leaving_unsubscribes(broker: AnyBroker) -> None:
    ch = channels.signals("bitcoin")
    async with broker.subscribe(ch):
        assert broker.health()["local_subscribers"] == 1
    assert broker.health()["local_subscribers"] == 0
    async with broker.subscribe(ch) as events:
        await broker.publish(ch, {"k": 1})
        (ev,) = await take(events, 1)
    assert ev.data == {"k": 1}


async def test_a_subscriber_that_overflows_is_told(broker: AnyBroker) -> None:
    ch = channels.prices("bitcoin")
    async with broker.subscribe(ch) as events:
        for i in range(520):  # queue is 500
            await broker.publish(ch, {"i": i})
        await asyncio.sleep(0.2 if broker.backend == "redis" else 0)
        with pytest.raises(SubscriptionLagged):
            await take(events, 520)


async def test_health_reports_ok(broker: AnyBroker) -> None:
    h = broker.health()
    assert h["ok"] is True
    assert h["backend"] == broker.backend
    assert h["epoch"]


async def test_gc_tuning_is_applied_for_the_server_and_restored(
    seeded_db: str, tmp_path: object
) -> None:
    import gc

    from app.broker import GC_THRESHOLDS
    from app.main import create_app
    from tests.conftest import make_settings, running_app

    before = gc.get_threshold()
    app = create_app(make_settings(seeded_db, data_dir=tmp_path, gc_tuning=True))
    async with running_app(app):
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
