"""Every close code and protocol rule of both WebSocket protocols, with real frames."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.subscriptions.conftest import PRICES, Live, until, ws_client

TRANSPORT = "graphql-transport-ws"
LEGACY = "graphql-ws"
SIMPLE = 'subscription { prices(assetIds: ["bitcoin"]) { seq price { value } } }'


async def test_no_acceptable_subprotocol_is_4406(live: Live) -> None:
    async with connect(live.url, subprotocols=["nope"], open_timeout=5) as conn:  # type: ignore[list-item]
        with pytest.raises(ConnectionClosed):
            await conn.recv()
    assert conn.protocol.close_rcvd is not None
    assert conn.protocol.close_rcvd.code == 4406


@pytest.mark.parametrize("live", [{"ws_init_timeout_seconds": 0.3}], indirect=True)
@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
async def test_no_init_within_the_timeout_is_4408(live: Live, protocol: str) -> None:
    async with ws_client(live.url, protocol) as c:
        code, reason = await c.closed()
    assert code == 4408
    assert reason == "Connection initialisation timeout"


async def test_second_init_is_4429(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        await c.send({"type": "connection_init"})
        assert (await c.closed())[0] == 4429


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
async def test_subscribe_before_ack_is_4401(live: Live, protocol: str) -> None:
    async with ws_client(live.url, protocol) as c:
        await c.subscribe("1", SIMPLE)
        assert (await c.closed())[0] == 4401


async def test_duplicate_operation_id_is_4409(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("dup", SIMPLE)
        await c.subscribe("dup", SIMPLE)
        code, reason = await c.closed()
    assert code == 4409
    assert reason == "Subscriber for dup already exists"


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        b"\xff\xfe",
        "[1, 2]",
        '{"type": "what"}',
        '{"type": "subscribe", "id": "", "payload": {"query": "x"}}',
        '{"type": "subscribe", "id": "1", "payload": {"query": 5}}',
    ],
)
async def test_malformed_messages_are_4400(live: Live, raw: str | bytes) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        await c.conn.send(raw)
        assert (await c.closed())[0] == 4400


async def test_ping_gets_pong_and_the_server_pings(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        await c.send({"type": "ping", "payload": {"n": 1}})
        raw = await asyncio.wait_for(c.conn.recv(), 5)
    assert orjson.loads(raw) == {"type": "pong", "payload": {"n": 1}}


@pytest.mark.parametrize("live", [{"ws_keepalive_seconds": 0.1}], indirect=True)
async def test_server_keepalive_ping_and_legacy_ka(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        assert orjson.loads(await asyncio.wait_for(c.conn.recv(), 5)) == {"type": "ping"}
    async with ws_client(live.url, LEGACY) as c:
        assert await c.init() == {"type": "connection_ack"}
        assert orjson.loads(await asyncio.wait_for(c.conn.recv(), 5)) == {"type": "ka"}


@pytest.mark.parametrize(
    "live", [{"ws_keepalive_seconds": 0.1, "ws_pong_timeout_seconds": 0.5}], indirect=True
)
async def test_silent_client_is_closed_4008(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        # Read nothing, answer no ping: the server's pong deadline passes.
        await asyncio.sleep(1.0)
        code, reason = await c.closed()
    assert code == 4008
    assert "pong" in reason


@pytest.mark.parametrize(
    "live", [{"ws_keepalive_seconds": 0.1, "ws_idle_timeout_seconds": 0.5}], indirect=True
)
async def test_socket_without_subscriptions_is_closed_4008(live: Live) -> None:
    async with ws_client(live.url, LEGACY) as c:
        await c.init()
        code, reason = await c.closed()
    assert code == 4008
    assert "Idle" in reason


@pytest.mark.parametrize("live", [{"ws_max_connection_age_seconds": 0.5}], indirect=True)
async def test_max_connection_age_is_4012(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("1", SIMPLE)
        code, _ = await c.closed()
    assert code == 4012
    await asyncio.sleep(0.1)
    assert live.hub.subscriber_count() == 0


@pytest.mark.parametrize("live", [{"anonymous_enabled": False}], indirect=True)
@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
async def test_missing_or_invalid_key_is_4403(live: Live, protocol: str) -> None:
    async with ws_client(live.url, protocol) as c:
        await c.send({"type": "connection_init"})
        if protocol == LEGACY:
            err = orjson.loads(await asyncio.wait_for(c.conn.recv(), 5))
            assert err["type"] == "connection_error"
            assert err["payload"]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await c.closed())[0] == 4403
    async with ws_client(live.url, protocol) as c:
        await c.send({"type": "connection_init", "payload": {"apiKey": "cq_test_nonsense"}})
        if protocol == LEGACY:
            err = orjson.loads(await asyncio.wait_for(c.conn.recv(), 5))
            assert err["payload"]["extensions"]["code"] == "INVALID_API_KEY"
        code, reason = await c.closed()
    assert code == 4403
    assert reason == "Invalid API key"


@pytest.mark.parametrize(
    "live", [{"anonymous_enabled": False, "ws_max_connections_per_key": 2}], indirect=True
)
async def test_valid_key_in_init_payload_and_connection_cap(live: Live) -> None:
    issued = await live.services["key_admin"].create(
        name="ws", tier="free", scopes=["prices", "streaming"]
    )
    async with ws_client(live.url) as a, ws_client(live.url) as b:
        assert (await a.init({"apiKey": issued.key}))["type"] == "connection_ack"
        assert (await b.init({"Authorization": f"Bearer {issued.key}"}))["type"] == (
            "connection_ack"
        )
        async with ws_client(live.url) as c:
            await c.send({"type": "connection_init", "payload": {"apiKey": issued.key}})
            code, reason = await c.closed()
        assert code == 4403
        assert "Too many connections" in reason
        # The others are unaffected and the key's slot frees when one leaves.
        await a.subscribe("1", SIMPLE)
        await live.attached(1)
    async with ws_client(live.url) as d:
        assert (await d.init({"apiKey": issued.key}))["type"] == "connection_ack"


@pytest.mark.parametrize(
    "live",
    [{"ws_max_subscriptions_per_connection": 2, "ws_max_subscriptions_per_key": 3}],
    indirect=True,
)
async def test_subscription_caps_refuse_the_operation_not_the_socket(live: Live) -> None:
    async with ws_client(live.url) as a, ws_client(live.url) as b:
        await a.init()
        await b.init()
        await a.subscribe("1", SIMPLE)
        await a.subscribe("2", SIMPLE)
        await a.subscribe("3", SIMPLE)
        err = await a.recv()
        assert err["type"] == "error"
        assert err["id"] == "3"
        assert err["payload"][0]["extensions"]["code"] == "SUBSCRIPTION_LIMIT"
        await b.subscribe("1", SIMPLE)
        await b.subscribe("2", SIMPLE)  # the key's 4th
        err = await b.recv()
        assert err["payload"][0]["extensions"]["code"] == "SUBSCRIPTION_LIMIT"
        await live.attached(3)
        await live.tick("bitcoin", "5")
        got = {(await a.recv())["id"], (await a.recv())["id"]}
        assert got == {"1", "2"}
        assert (await b.recv())["id"] == "1"


async def test_validation_error_is_an_error_message_and_the_socket_stays(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("bad", 'subscription { prices(assetIds: ["bitcoin"]) { nope } }')
        err = await c.recv()
        assert err["type"] == "error"
        assert err["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        await c.subscribe("unknown", 'subscription { prices(assetIds: ["dogecoin"]) { seq } }')
        err = await c.recv()
        assert err["id"] == "unknown"
        assert err["payload"][0]["extensions"]["code"] == "NOT_FOUND"
        await c.subscribe("ok", SIMPLE)
        await live.attached(1)
        await live.tick("bitcoin", "7")
        msg = await c.recv()
    assert msg["id"] == "ok"
    assert msg["payload"]["data"]["prices"]["price"]["value"] == "7"


async def test_complete_stops_delivery_and_frees_the_topic(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("1", SIMPLE)
        await live.attached(1)
        await c.send({"type": "complete", "id": "1"})
        await until(lambda: not live.hub.topics)
        await live.tick("bitcoin", "1")
        await c.subscribe("2", SIMPLE)
        await live.attached(1)
        await live.tick("bitcoin", "2")
        msg = await c.recv()
    assert msg["id"] == "2"
    assert live.broker.health()["local_subscribers"] == 0


async def test_query_over_the_socket_gets_next_then_complete(live: Live) -> None:
    async with ws_client(live.url) as c:
        await c.init()
        await c.subscribe("q", '{ asset(id: "bitcoin") { symbol } }')
        first = await c.recv()
        second = await c.recv()
    assert first == {"type": "next", "id": "q", "payload": {"data": {"asset": {"symbol": "BIT"}}}}
    assert second == {"type": "complete", "id": "q"}


async def test_legacy_protocol_start_data_stop(live: Live) -> None:
    async with ws_client(live.url, LEGACY) as c:
        assert await c.init() == {"type": "connection_ack"}
        await c.subscribe("7", PRICES, {"ids": ["ethereum"]})
        await live.attached(1)
        await live.tick("ethereum", "3000")
        data = await c.recv()
        await c.send({"type": "stop", "id": "7"})
        complete = await c.recv()
        await c.subscribe("8", 'subscription { prices(assetIds: ["x"]) { nope } }')
        error = await c.recv()
        await c.send({"type": "connection_terminate"})
        code, _ = await c.closed()
    assert data["type"] == "data"
    assert data["id"] == "7"
    assert data["payload"]["data"]["prices"]["price"]["value"] == "3000"
    assert complete == {"type": "complete", "id": "7"}
    assert error["type"] == "error"
    assert error["payload"]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert code == 1000


@pytest.mark.parametrize("live", [{"cors_origins": ["https://good.example"]}], indirect=True)
async def test_cross_site_browser_handshake_is_refused(live: Live) -> None:
    with pytest.raises(InvalidStatus) as err:
        async with connect(
            live.url,
            subprotocols=[TRANSPORT],
            origin="https://evil.example",
            open_timeout=5,  # type: ignore[list-item, arg-type]
        ):
            pass
    assert err.value.response.status_code == 403
    async with connect(
        live.url,
        subprotocols=[TRANSPORT],
        origin="https://good.example",
        open_timeout=5,  # type: ignore[list-item, arg-type]
    ) as ok:
        assert ok.subprotocol == TRANSPORT


@pytest.mark.parametrize(
    "live", [{"anonymous_enabled": False, "ws_keepalive_seconds": 0.1}], indirect=True
)
async def test_revoked_key_closes_its_open_socket_4403(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.ws

    monkeypatch.setattr(app.ws, "KEY_RECHECK_SECONDS", 0.1)
    admin = live.services["key_admin"]
    issued = await admin.create(name="ws", tier="free", scopes=["prices", "streaming"])
    async with ws_client(live.url) as c:
        assert (await c.init({"apiKey": issued.key}))["type"] == "connection_ack"
        await c.subscribe("1", SIMPLE)
        await live.attached(1)
        await admin.revoke(issued.record.id)
        live.services["keys"].invalidate(issued.record.id)  # what the Redis announcement does
        code, reason = await c.closed()
    assert code == 4403
    assert "revoked" in reason
