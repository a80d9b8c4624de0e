"""The npm ``graphql-ws`` client (what browsers and Node apps use) against a real server."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.subscriptions.conftest import Live

SCRIPT = Path(__file__).parent / "js" / "graphql_ws_client.mjs"
NODE = shutil.which("node")
MODULES = Path(__file__).resolve().parents[2] / "node_modules" / "graphql-ws"

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        NODE is None or not MODULES.exists(), reason="needs node and node_modules (npm ci)"
    ),
]


async def _run_client(live: Live, events: int, variables: dict[str, Any], key: str = "") -> Any:
    assert NODE is not None
    return await asyncio.create_subprocess_exec(
        NODE,
        str(SCRIPT),
        live.url,
        str(events),
        json.dumps(variables),
        *([key] if key else []),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _lines(proc: Any, n: int) -> list[dict[str, Any]]:
    out = []
    async with asyncio.timeout(20):
        while len(out) < n:
            line = await proc.stdout.readline()
            if not line:
                break
            out.append(orjson.loads(line))
    return out


async def test_graphql_ws_client_receives_the_published_ticks(live: Live) -> None:
    proc = await _run_client(live, 3, {"ids": ["bitcoin", "ethereum"]})
    try:
        await live.attached(1)
        received = []
        for i, (asset, source) in enumerate(
            [("bitcoin", "a"), ("bitcoin", "b"), ("ethereum", "a")]
        ):
            await live.tick(asset, 100 + i, source=source)
            received += await _lines(proc, 1)  # one at a time: no conflation in between
        async with asyncio.timeout(10):
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0, (await proc.stderr.read()).decode()
    prices = [r["data"]["prices"] for r in received]
    assert [(p["assetId"], p["seq"]) for p in prices] == [
        ("bitcoin", 1),
        ("bitcoin", 2),
        ("ethereum", 1),
    ]
    assert prices[1]["price"] == {
        "value": "100.5",
        "quote": "USD",
        "sourceCount": 2,
        "method": "MEDIAN",
        "outliers": [],
        "sources": [
            {"source": "a", "price": "100", "used": True},
            {"source": "b", "price": "101", "used": True},
        ],
    }
    assert prices[2]["tick"] == {"source": "a", "price": "102"}


async def test_graphql_ws_client_resumes_with_after(live: Live) -> None:
    proc = await _run_client(live, 1, {"ids": ["solana"]})
    try:
        await live.attached(1)
        await live.tick("solana", "150")
        (first,) = await _lines(proc, 1)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    cursor = first["data"]["prices"]["cursor"]
    await live.until_detached()
    await live.tick("solana", "151")
    await live.tick("solana", "152")
    proc = await _run_client(live, 2, {"ids": ["solana"], "after": cursor})
    try:
        got = await _lines(proc, 2)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert [g["data"]["prices"]["seq"] for g in got] == [2, 3]
    assert [g["data"]["prices"]["tick"]["price"] for g in got] == ["151", "152"]
