"""The cost model applies per delivered event: charged in batches, throttled when exhausted."""

from __future__ import annotations

import asyncio

import pytest

from resolvers.subscriptions.metering import Meter
from tests.subscriptions.conftest import Live, until, ws_client

DOC = 'subscription { prices(assetIds: ["bitcoin"]) { seq price { value } } }'
TINY = {
    "cost_tiers": {
        "anonymous": {"capacity": 60, "restore_rate": 1},
        "free": {"capacity": 5000, "restore_rate": 100},
    }
}


@pytest.mark.parametrize("live", [TINY], indirect=True)
async def test_events_are_charged_and_an_exhausted_budget_throttles(live: Live) -> None:
    cost = live.services["cost"]
    meter: Meter = live.services["subscription_meter"]
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("1", DOC)
        await live.attached(1)
        before = (await cost.status("ip:127.0.0.1", "anonymous")).currently_available
        got = 0
        for i in range(40):
            await live.tick("bitcoin", 100 + i)
            try:
                await c.recv(wait=0.5)
                got += 1
            except TimeoutError:
                pass
            if i % 5 == 4:
                await meter.flush()
        await meter.flush()
        after = (await cost.status("ip:127.0.0.1", "anonymous")).currently_available
        throttled = live.hub.stats.throttled
    assert meter.charged > 0
    assert after < before
    assert meter.refusals >= 1
    assert throttled > 0
    assert 0 < got < 40


class _Decision:
    def __init__(self, allowed: bool, retry_after: float = 0.0) -> None:
        self.allowed, self.retry_after = allowed, retry_after


async def test_meter_batches_per_key_and_carries_refused_amounts() -> None:
    calls: list[tuple[str, str, float]] = []
    budget = {"k1": 10.0}

    async def charge(key: str, tier: str, amount: float) -> _Decision:
        calls.append((key, tier, amount))
        if key in budget and amount > budget[key]:
            return _Decision(False, retry_after=0.05)
        return _Decision(True)

    meter = Meter(charge, interval=0.01)
    for _ in range(4):
        meter.add("k1", "free", 2.0)  # 8 fits
        meter.add("k2", "free", 1.0)
    await meter.flush()
    assert sorted(calls) == [("k1", "free", 8.0), ("k2", "free", 4.0)]
    assert meter.allow("k1")
    meter.add("k1", "free", 5.0)
    await meter.flush()  # 5 > 10? no: fits
    meter.add("k1", "free", 11.0)
    await meter.flush()  # refused: blocked and carried
    assert not meter.allow("k1")
    assert meter.allow("k2")
    await until(lambda: meter.allow("k1"), wait=2)
    budget["k1"] = 100.0
    await meter.flush()
    assert calls[-1] == ("k1", "free", 11.0)
    await asyncio.sleep(0)
