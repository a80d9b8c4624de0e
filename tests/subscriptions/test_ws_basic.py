"""End to end over a real socket: subscribe, receive consensus updates, complete."""

from __future__ import annotations

from tests.subscriptions.conftest import PRICES, Live, ws_client


async def test_prices_over_graphql_transport_ws(live: Live) -> None:
    async with ws_client(live.url) as c:
        assert (await c.init())["type"] == "connection_ack"
        await c.subscribe("1", PRICES, {"ids": ["bitcoin"]})
        await live.attached(1)
        await live.tick("bitcoin", "100", source="a")
        first = await c.recv()
        await live.tick("bitcoin", "102", source="b")
        second = await c.recv()
    assert first["type"] == "next"
    assert first["id"] == "1"
    p1 = first["payload"]["data"]["prices"]
    p2 = second["payload"]["data"]["prices"]
    assert p1["seq"] == 1
    assert p1["price"]["value"] == "100"
    assert p2["seq"] == 2
    assert p2["price"]["value"] == "101"
    assert p2["price"]["sourceCount"] == 2
    assert sorted(s["source"] for s in p2["price"]["sources"]) == ["a", "b"]
    assert p2["tick"] == {"source": "b", "price": "102"}
