"""Python's HTTP ceiling for the dashboard: the same JSON built by hand.

``uvicorn bench.ceiling_app:app`` with ``CRYPTOQL_BENCH_CEILING_DATA`` pointing
at a captured dashboard response (JSON). Each POST rebuilds the response from
plain records with hand-written code — no GraphQL, no validation, no loaders —
and encodes it with orjson: the floor under what any GraphQL execution in
Python on Starlette/uvicorn can cost for the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def _records(captured: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """The captured assets, keyed by page size (the bench asks for each N once)."""
    return {n: page["data"]["assets"]["edges"] for n, page in captured.items()}  # type: ignore[misc]


def _asset(node: dict[str, Any]) -> dict[str, Any]:
    price = node["price"]
    return {
        "id": node["id"],
        "canonicalId": node["canonicalId"],
        "symbol": node["symbol"],
        "name": node["name"],
        "rank": node["rank"],
        "categories": list(node["categories"]),
        "price": None
        if price is None
        else {
            "value": price["value"],
            "observedAt": price["observedAt"],
            "ageSeconds": price["ageSeconds"],
            "stale": price["stale"],
            "sourceCount": price["sourceCount"],
            "spread": price["spread"],
            "method": price["method"],
            "sources": [dict(s) for s in price["sources"]],
        },
        "market": None if node["market"] is None else dict(node["market"]),
        "signals": [dict(s) for s in node["signals"]],
        "grade": None
        if node["grade"] is None
        else {
            "value": node["grade"]["value"],
            "components": [dict(c) for c in node["grade"]["components"]],
        },
        "candles": [dict(c) for c in node["candles"]],
    }


_DATA: dict[int, list[dict[str, Any]]] = {}
_TOTAL = 0


async def graphql(request: Request) -> Response:
    body = orjson.loads(await request.body())
    n = int(body["variables"]["n"])
    edges = _DATA[n]
    out = {
        "data": {
            "assets": {
                "totalCount": _TOTAL,
                "pageInfo": {"hasNextPage": True, "endCursor": edges[-1]["cursor"]},
                "edges": [{"cursor": e["cursor"], "node": _asset(e["node"])} for e in edges],
            }
        }
    }
    return Response(orjson.dumps(out), media_type="application/json")


async def healthz(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def _load() -> None:
    global _TOTAL
    path = Path(os.environ["CRYPTOQL_BENCH_CEILING_DATA"])
    captured = {int(k): v for k, v in orjson.loads(path.read_bytes()).items()}
    _DATA.update(_records(captured))  # type: ignore[arg-type]
    _TOTAL = max(page["data"]["assets"]["totalCount"] for page in captured.values())


_load()
app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)])
