"""``after:`` resumes exactly: every missed event once, then live; or an explicit refusal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.subscriptions.conftest import PRICES, Live, ws_client

BOTH = pytest.mark.parametrize(
    "live", [{}, {"redis": True}], indirect=True, ids=["memory", "redis"]
)

BLOCKS = """
subscription B($after: String) {
  blocks(chainId: "ethereum", after: $after) { seq cursor block { number } }
}
"""


async def _next(c: Any) -> dict[str, Any]:
    msg = await c.recv()
    assert msg["type"] == "next", msg
    return msg["payload"]["data"]


@BOTH
async def test_resume_replays_exactly_the_missed_events(live: Live) -> None:
    ids = ["bitcoin", "ethereum"]
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("1", PRICES, {"ids": ids})
        await live.attached(1)
        seen = []
        for i, asset in enumerate(["bitcoin", "ethereum", "bitcoin"]):
            await live.tick(asset, 100 + i, source="s1")
            seen.append((await _next(c))["prices"])
        cursor = seen[-1]["cursor"]
    await live.until_detached()
    # Missed while disconnected: 3 bitcoin ticks and 2 ethereum ticks, interleaved.
    missed = []
    for i, asset in enumerate(["ethereum", "bitcoin", "bitcoin", "ethereum", "bitcoin"]):
        seq = await live.tick(asset, 200 + i, source="s2")
        missed.append((asset, seq))
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("2", PRICES, {"ids": ids, "after": cursor})
        replayed = [(await _next(c))["prices"] for _ in missed]
        await live.attached(1)
        await live.tick("ethereum", 300, source="s3")
        after_live = (await _next(c))["prices"]
    assert [(p["assetId"], p["seq"]) for p in replayed] == missed
    assert [p["tick"]["price"] for p in replayed] == [str(200 + i) for i in range(5)]
    # The consensus state was rebuilt from the window: s1's last value still counts.
    assert replayed[0]["price"]["sourceCount"] == 2
    assert after_live["assetId"] == "ethereum"
    assert after_live["seq"] == missed[-2][1] + 1
    # Cursors keep advancing per channel: resuming from the last replayed one gives nothing twice.
    assert replayed[-1]["cursor"] != cursor


@BOTH
async def test_resume_of_a_queue_stream_then_live_without_duplicates(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("1", BLOCKS)
        await live.attached(1)
        await live.block(1)
        cursor = (await _next(c))["blocks"]["cursor"]
    await live.until_detached()
    for n in range(2, 6):
        await live.block(n)
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("2", BLOCKS, {"after": cursor})
        got = [(await _next(c))["blocks"]["block"]["number"] for _ in range(4)]
        await live.attached(1)
        await live.block(6)
        got.append((await _next(c))["blocks"]["block"]["number"])
    assert got == [2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    "live",
    [{"pubsub_replay_window": 5}, {"redis": True, "pubsub_replay_window": 5}],
    indirect=True,
    ids=["memory", "redis"],
)
async def test_a_gap_older_than_the_window_is_refused_explicitly(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("1", BLOCKS)
        await live.attached(1)
        await live.block(1)
        cursor = (await _next(c))["blocks"]["cursor"]
    await live.until_detached()
    for n in range(2, 10):  # 8 missed, window keeps 5
        await live.block(n)
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("2", BLOCKS, {"after": cursor})
        err = await c.recv()
    assert err["type"] == "error"
    ext = err["payload"][0]["extensions"]
    assert ext["code"] == "REPLAY_WINDOW_EXCEEDED"
    assert list(ext["oldest"].values()) == [5]


async def test_cursors_of_other_subscriptions_or_epochs_are_refused(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("1", PRICES, {"ids": ["bitcoin"]})
        await live.attached(1)
        await live.tick("bitcoin", 1)
        cursor = (await _next(c))["prices"]["cursor"]
        other_set = {"ids": ["ethereum"], "after": cursor}
        await c.subscribe("2", PRICES, other_set)
        err = await c.recv()
        assert err["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        await c.subscribe("3", PRICES, {"ids": ["bitcoin"], "after": "garbage"})
        err = await c.recv()
        assert err["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        parts = cursor.split(".")
        parts[1] = "00000000"  # another epoch: the numbering restarted since
        await c.subscribe("4", PRICES, {"ids": ["bitcoin"], "after": ".".join(parts)})
        err = await c.recv()
        assert err["payload"][0]["extensions"]["code"] == "REPLAY_WINDOW_EXCEEDED"
        parts = cursor.split(".")
        parts[-1] = "99"  # ahead of the stream
        await c.subscribe("5", PRICES, {"ids": ["bitcoin"], "after": ".".join(parts)})
        err = await c.recv()
        assert err["payload"][0]["extensions"]["code"] == "REPLAY_WINDOW_EXCEEDED"
