"""Start-up reachability probe of the real upstream sources.

One cheap, keyless request per source (CoinGecko ``/ping``, Binance
``/api/v3/ping``, Coinbase ``/time``, Ethereum ``eth_chainId``), all at once,
each bounded by a short timeout, so the whole probe takes at most
``limit`` seconds and runs in the background (the server is already
accepting requests). Its only job is to decide between the real sources and
the simulated market; the adapters have their own retries and breakers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from ingest.config import RealSources


@dataclass(frozen=True, slots=True)
class ProbeResult:
    source: str
    ok: bool
    detail: str


def _requests(real: RealSources) -> dict[str, tuple[str, str, dict[str, object] | None]]:
    return {
        "coingecko": ("GET", real.coingecko_url.rstrip("/") + "/ping", None),
        "binance": ("GET", real.binance_url.rstrip("/") + "/api/v3/ping", None),
        "coinbase": ("GET", real.coinbase_url.rstrip("/") + "/time", None),
        "ethereum": (
            "POST",
            real.ethereum_rpc_url,
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        ),
    }


async def probe(
    real: RealSources,
    *,
    limit: float = 3.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[ProbeResult]:
    """Probe every enabled source concurrently; never raises."""
    wanted = {k: v for k, v in _requests(real).items() if k in real.enabled}
    limits = httpx.Timeout(limit, connect=min(limit, 2.0))
    async with httpx.AsyncClient(timeout=limits, transport=transport) as client:

        async def one(name: str, method: str, url: str, body: object) -> ProbeResult:
            try:
                async with asyncio.timeout(limit):
                    resp = await client.request(method, url, json=body)
            except (httpx.HTTPError, TimeoutError, OSError) as exc:
                return ProbeResult(name, False, f"{type(exc).__name__}: {exc}"[:200])
            ok = resp.status_code < 500 and resp.status_code not in (401, 403, 407)
            return ProbeResult(name, ok, f"HTTP {resp.status_code}")

        return list(await asyncio.gather(*(one(n, m, u, b) for n, (m, u, b) in wanted.items())))


__all__ = ["ProbeResult", "probe"]
