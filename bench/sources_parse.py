"""Parse and identity-build throughput for the REST adapters (prints figures; not a test).

Run: .venv/bin/python -m bench.sources_parse

A synthetic /coins/list of 17,000 rows (about CoinGecko's real size) with
1–4 EVM contracts each, served through httpx.MockTransport, then
build_registry over it; and 1000-row Binance kline pages.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC, datetime

import httpx

from sources.base import Wiring
from sources.binance import Binance, BinanceConfig
from sources.coingecko import CoinGecko, CoinGeckoConfig
from sources.http import ManualClock
from sources.identity import Overrides, build_registry
from sources.records import AssetPlatform

PLATFORMS = [("ethereum", 1), ("arbitrum-one", 42161), ("base", 8453), ("polygon-pos", 137)]


def coins(n: int, rng: random.Random) -> list[dict[str, object]]:
    rows = []
    for i in range(n):
        chosen = rng.sample(PLATFORMS, rng.randint(0, 4))
        rows.append(
            {
                "id": f"coin-{i}",
                "symbol": f"s{i % 5000}",  # shared symbols, as in the real list
                "name": f"Coin {i}",
                "platforms": {p: f"0x{rng.getrandbits(160):040x}" for p, _ in chosen},
            }
        )
    return rows


def klines(n: int) -> list[list[object]]:
    t0 = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
    return [
        [
            t0 + i * 60_000,
            "100.5",
            "101.25",
            "99.75",
            "100.9",
            "12.5",
            t0 + i * 60_000 + 59_999,
            "1261.25",
            42,
            "6.1",
            "615.0",
            "0",
        ]
        for i in range(n)
    ]


async def main() -> None:
    rng = random.Random(1)
    list_body = json.dumps(coins(17_000, rng)).encode()
    kline_body = json.dumps(klines(1000)).encode()

    def handle(request: httpx.Request) -> httpx.Response:
        body = list_body if request.url.path.endswith("/coins/list") else kline_body
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    wiring = Wiring(transport=httpx.MockTransport(handle), clock=ManualClock())
    cg = CoinGecko(CoinGeckoConfig(calls_per_minute=10_000), wiring)
    t = time.perf_counter()
    listings = (await cg.coins_list()).records
    parse_s = time.perf_counter() - t
    platforms = [AssetPlatform(p, cid, p) for p, cid in PLATFORMS]
    t = time.perf_counter()
    plan = build_registry(listings, platforms, overrides=Overrides.load())
    build_s = time.perf_counter() - t
    print(
        f"coins_list: {len(listings)} rows ({len(list_body) / 1e6:.1f} MB) "
        f"parsed in {parse_s:.2f} s"
    )
    print(
        f"build_registry: {len(plan.assets)} assets, {len(plan.contracts)} contracts, "
        f"{len(plan.ambiguous_symbols)} ambiguous symbols in {build_s:.2f} s"
    )
    bn = Binance(
        BinanceConfig(), Wiring(transport=httpx.MockTransport(handle), clock=ManualClock())
    )
    t = time.perf_counter()
    rounds = 20
    rows = 0
    for _ in range(rounds):
        rows += len((await bn.klines("BTCUSDT", "1m")).records)
    kl_s = time.perf_counter() - t
    print(f"klines: {rows} candles in {kl_s:.2f} s = {rows / kl_s:,.0f} candles/s")
    await cg.aclose()
    await bn.aclose()


if __name__ == "__main__":
    asyncio.run(main())
