"""Against the real server process: WebSocket JSON guard, JSON log lines, request ids."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest
from sqlalchemy import text
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from storage.engine import make_engine
from tests.server.conftest import live_server

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[" * 40 + "]" * 40,
        '{"type": "connection_init", "payload": {"x": NaN}}',
        '{"type": "connection_init", "payload": {"x": 1e999}}',
    ],
)
async def test_bad_websocket_frames_close_with_4400(server, frame):
    async with connect(server.ws, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400


async def test_logs_are_json_lines_with_the_request_id(sqlite_template, tmp_path):
    db_file = tmp_path / "logs.db"
    shutil.copyfile(sqlite_template, db_file)
    url = f"sqlite+aiosqlite:///{db_file}"
    engine = make_engine(url)
    async with engine.begin() as conn:  # make the asset resolver fail for real
        await conn.execute(text("DROP TABLE assets"))
    await engine.dispose()

    with live_server(url, tmp_path) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as client:
            ok = await client.post(
                "/graphql",
                json={"query": "query Ping { __typename }"},
                headers={"x-request-id": "trace-ok-1"},
            )
            boom = await client.post(
                "/graphql", json={"query": 'query Boom { asset(id: "bitcoin") { symbol } }'}
            )
    assert ok.headers["x-request-id"] == "trace-ok-1"
    boom_id = boom.headers["x-request-id"]
    assert boom.json()["errors"][0]["extensions"]["requestId"] == boom_id

    records = [json.loads(line) for line in srv.log_lines() if line.startswith("{")]
    assert records, "no JSON log lines"
    assert len(records) == len([line for line in srv.log_lines() if line.strip()])
    for record in records:
        assert {"ts", "level", "logger", "message", "request_id"} <= record.keys()
        assert record["ts"].endswith("+00:00")

    access = {r["request_id"]: r for r in records if r["logger"] == "cryptoql.access"}
    assert access["trace-ok-1"]["status"] == 200
    assert access["trace-ok-1"]["operation"] == "Ping"
    assert access["trace-ok-1"]["duration_ms"] >= 0
    assert access[boom_id]["operation"] == "Boom"
    assert access[boom_id]["error_codes"] == ["INTERNAL_SERVER_ERROR"]

    failures = [r for r in records if r["logger"] == "cryptoql.errors"]
    assert len(failures) == 1
    assert failures[0]["request_id"] == boom_id
    assert "assets" in failures[0]["message"] and "Traceback" in failures[0]["exc_info"]
    assert "Traceback" not in boom.text
