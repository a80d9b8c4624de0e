"""A fake upstream (Binance, Coinbase and CoinGecko REST) served over a real loopback socket.

The app under test talks to it exactly as it would to the providers: through
its own resilient HTTP clients, timeouts and breakers, over TCP. Each source
can be switched, while the app runs, into a failure mode the way a fault
proxy would: ``5xx`` (every call 503), ``html`` (an HTML error page with 200)
or ``truncated`` (half a JSON body). Prices, and a deliberately bad record
in the Binance tickers, are set per test; every request is counted per source.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


@dataclass
class Upstream:
    """Mutable state of the fake providers (read on every request)."""

    binance_prices: dict[str, Decimal] = field(
        default_factory=lambda: {"BTCUSDT": Decimal("87000.10"), "ETHUSDT": Decimal("3100.5")}
    )
    coinbase_products: list[str] = field(default_factory=list)
    #: Symbols whose ticker is sent with lastPrice 0 (a halted market: quarantined, never written).
    binance_bad: set[str] = field(default_factory=set)
    faults: dict[str, str] = field(default_factory=dict)  # source -> 5xx | html | truncated
    calls: Counter[str] = field(default_factory=Counter)
    served_bad: Counter[str] = field(default_factory=Counter)
    url: str = ""

    def base(self, source: str) -> str:
        return {
            "binance": f"{self.url}/binance",
            "coinbase": f"{self.url}/coinbase/api/v3/brokerage",
            "coingecko": f"{self.url}/coingecko/api/v3",
        }[source]

    # ------------------------------------------------------------------ replies

    def fault(self, source: str) -> Response | None:
        mode = self.faults.get(source)
        if mode == "5xx":
            return Response('{"msg":"busy"}', 503, media_type="application/json")
        if mode == "html":
            return Response("<html><body>Maintenance</body></html>", 200, media_type="text/html")
        if mode == "truncated":
            return Response('[{"symbol": "BTCUSDT", "lastPri', 200, media_type="application/json")
        return None

    def binance(self, request: Request) -> Any:
        path = request.url.path.removeprefix("/binance")
        if path == "/api/v3/ping":
            return {}
        if path == "/api/v3/exchangeInfo":
            return {
                "symbols": [
                    {"symbol": s, "baseAsset": s[:-4], "quoteAsset": "USDT", "status": "TRADING"}
                    for s in sorted(self.binance_prices)
                ]
            }
        if path == "/api/v3/klines":
            return []
        if path == "/api/v3/ticker/24hr":
            params = request.query_params
            wanted = json.loads(params["symbols"]) if "symbols" in params else [params["symbol"]]
            rows = []
            for symbol in wanted:
                bad = symbol in self.binance_bad
                self.served_bad[symbol] += int(bad)
                price = "0.00000000" if bad else str(self.binance_prices[symbol])
                rows.append(
                    {"symbol": symbol, "lastPrice": price, "closeTime": now_ms(), "volume": "12.5"}
                )
            return rows if "symbols" in params else rows[0]
        return None

    def coinbase(self, request: Request) -> Any:
        path = request.url.path.removeprefix("/coinbase/api/v3/brokerage")
        if path == "/time":
            return {"iso": datetime.now(UTC).isoformat()}
        if path == "/market/products":
            return {
                "products": [
                    {
                        "product_id": p,
                        "base_currency_id": p.split("-")[0],
                        "quote_currency_id": p.split("-")[1],
                        "status": "online",
                    }
                    for p in self.coinbase_products
                ]
            }
        if path.startswith("/market/products/") and path.endswith("/candles"):
            return {"candles": []}
        return None

    def coingecko(self, request: Request) -> Any:
        path = request.url.path.removeprefix("/coingecko/api/v3")
        if path == "/ping":
            return {"gecko_says": "(V3) To the Moon!"}
        return None

    async def handle(self, request: Request) -> Response:
        source = request.url.path.strip("/").split("/", 1)[0]
        self.calls[source] += 1
        failed = self.fault(source)
        if failed is not None:
            return failed
        body = getattr(self, source)(request)
        if body is None:
            return Response('{"error":"NOT_FOUND"}', 404, media_type="application/json")
        return Response(json.dumps(body), 200, media_type="application/json")


@asynccontextmanager
async def serve_upstream(upstream: Upstream | None = None) -> AsyncIterator[Upstream]:
    """Serve ``upstream`` on a free loopback port for the duration of the block."""
    state = upstream or Upstream()
    app = Starlette(routes=[Route("/{path:path}", state.handle, methods=["GET", "POST"])])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="critical",
        access_log=False,
        lifespan="off",
        ws="none",
        http="h11",
    )
    server = uvicorn.Server(config)
    # Bound and listening before uvicorn starts: clients may connect at once (the
    # kernel queues them until the server accepts), so nothing has to poll for "ready".
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    state.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield state
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
