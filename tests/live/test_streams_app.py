"""The exchange WebSocket streams run inside the server in real mode (both DB backends).

Fake Binance/Coinbase REST (identity: markets) on one loopback socket, and a
local WebSocket server per exchange speaking the documented frame formats.
The server must subscribe to the configured markets, store the streamed
prices through the write path, report the streams in ``/readyz`` and
``/metrics``, and close the connections on shutdown.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from storage.models import Asset, Quote
from tests.conftest import make_settings
from tests.live.support import app_with_state, metric, samples, until
from tests.live.upstream import Upstream, now_ms, serve_upstream
from tests.streams.replay import Conn, ReplayServer

closed: list[str] = []


async def binance_script(conn: Conn, n: int) -> None:
    trade = {"e": "trade", "E": now_ms(), "s": "BTCUSDT", "t": 1, "p": "87123.45"}
    trade |= {"q": "0.5", "T": now_ms(), "m": True, "M": True}
    await conn.send({"stream": "btcusdt@trade", "data": trade})
    await conn.hold()
    closed.append("binance")


async def coinbase_script(conn: Conn, n: int) -> None:
    for _ in range(2):  # ticker + heartbeats subscriptions
        await conn.recv_json()
    ts = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    ticker = {"type": "ticker", "product_id": "BTC-USD", "price": "87150.5"}
    await conn.send(
        json.dumps(
            {
                "channel": "ticker",
                "client_id": "",
                "timestamp": ts,
                "sequence_num": 1,
                "events": [{"type": "snapshot", "tickers": [ticker]}],
            }
        )
    )
    await conn.hold()
    closed.append("coinbase")


async def stream_prices(db) -> dict[str, Decimal]:
    async with db.sessions() as s:
        stmt = select(Quote.source, Quote.price).join(Asset).where(Asset.canonical_id == "bitcoin")
        return {src: p for src, p in (await s.execute(stmt)).all() if p in STREAMED}


STREAMED = {Decimal("87123.45"), Decimal("87150.5")}


async def test_streams_start_in_real_mode_report_health_and_close(db):
    closed.clear()
    up = Upstream(coinbase_products=["BTC-USD"])
    async with (
        serve_upstream(up),
        ReplayServer(binance_script) as binance_ws,
        ReplayServer(coinbase_script) as coinbase_ws,
    ):
        settings = make_settings(
            db.url,
            ingest_enabled=True,
            ingest_mode="real",
            ingest_coingecko_url="",
            eth_rpc_url="",
            ingest_binance_url=up.base("binance"),
            ingest_coinbase_url=up.base("coinbase"),
            ingest_assets=["bitcoin"],
            ingest_schedule_seconds={"binance": 30.0, "coinbase": 30.0, "identity": 3600.0},
            binance_ws_url=binance_ws.url,
            binance_ws_symbols=["BTCUSDT"],
            coinbase_ws_url=coinbase_ws.url,
            coinbase_ws_products=["BTC-USD"],
            stream_flush_seconds=0.2,
        )
        async with app_with_state(settings) as (client, state):
            runner = state["services"]["ingest"]
            await until(lambda: runner.feeds)
            assert {f.name for f in runner.feeds} >= {"binance-stream", "coinbase-stream"}
            found = await until(
                lambda: _both(db), within=20
            )  # the REST identity pass stores the markets, then stream ticks map
            assert found == {"binance": Decimal("87123.45"), "coinbase": Decimal("87150.5")}

            ready = (await client.get("/readyz")).json()["checks"]["ingest"]["sources"]
            assert ready["binance"]["stream"]["connected"] is True
            assert ready["coinbase"]["stream"]["connected"] is True
            assert ready["binance"]["status"] == "ok"
            metrics = samples((await client.get("/metrics")).text)
            for source in ("binance", "coinbase"):
                assert metric(metrics, "cryptoql_stream_connected", source=source) == 1
                assert metric(metrics, "cryptoql_stream_connects_total", source=source) == 1
        # Subscribed to what was configured; both connections closed by the shutdown.
        assert "btcusdt@trade" in binance_ws.conns[0].path
        subscribe = coinbase_ws.conns[0].received[0]
        assert subscribe["product_ids"] == ["BTC-USD"] and subscribe["type"] == "subscribe"
        await until(lambda: sorted(closed) == ["binance", "coinbase"], within=5)


async def _both(db):
    prices = await stream_prices(db)
    return prices if len(prices) == 2 else None


async def test_streams_are_off_when_disabled(db):
    async with serve_upstream(Upstream()) as up:
        settings = make_settings(
            db.url,
            ingest_enabled=True,
            ingest_mode="real",
            ingest_coingecko_url="",
            ingest_coinbase_url="",
            eth_rpc_url="",
            ingest_binance_url=up.base("binance"),
            ingest_streams_enabled=False,
        )
        async with app_with_state(settings) as (_client, state):
            runner = state["services"]["ingest"]
            await until(lambda: runner.feeds)
            assert [f.name for f in runner.feeds] == ["real", "retention"]
