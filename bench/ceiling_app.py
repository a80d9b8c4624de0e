"""Python's HTTP ceiling for the speed bench: the same JSON built by hand.

``uvicorn bench.ceiling_app:app`` with ``CRYPTOQL_BENCH_CEILING_DATA`` pointing
at captured responses (JSON, keyed ``"<query>:<N>"``, see ``bench/speed.py``).
Each POST rebuilds the response for its document (the operation name tells
``Ticker`` from ``Dashboard``) and N from plain records with hand-written code
— no GraphQL, no validation, no loaders — and encodes it with orjson: the
floor under what any GraphQL execution in Python on Starlette/uvicorn can
cost for the same bytes.
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


def _ticker_asset(node: dict[str, Any]) -> dict[str, Any]:
    price = node["price"]
    return {
        "id": node["id"],
        "symbol": node["symbol"],
        "name": node["name"],
        "price": None
        if price is None
        else {
            "value": price["value"],
            "observedAt": price["observedAt"],
            "stale": price["stale"],
            "sourceCount": price["sourceCount"],
        },
        "signals": [
            {"kind": s["kind"], "value": s["value"], "direction": s["direction"]}
            for s in node["signals"]
        ],
    }


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


_DATA: dict[tuple[str, int], dict[str, Any]] = {}


async def graphql(request: Request) -> Response:
    body = orjson.loads(await request.body())
    n = int(body["variables"]["n"])
    if body["query"].lstrip().startswith("query Ticker"):
        edges = _DATA[("ticker", n)]["data"]["assets"]["edges"]
        out: dict[str, Any] = {
            "data": {"assets": {"edges": [{"node": _ticker_asset(e["node"])} for e in edges]}}
        }
    else:
        page = _DATA[("dashboard", n)]["data"]["assets"]
        edges = page["edges"]
        out = {
            "data": {
                "assets": {
                    "totalCount": page["totalCount"],
                    "pageInfo": {
                        "hasNextPage": page["pageInfo"]["hasNextPage"],
                        "endCursor": edges[-1]["cursor"],
                    },
                    "edges": [{"cursor": e["cursor"], "node": _asset(e["node"])} for e in edges],
                }
            }
        }
    return Response(orjson.dumps(out), media_type="application/json")


async def healthz(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def _load() -> None:
    path = Path(os.environ["CRYPTOQL_BENCH_CEILING_DATA"])
    for key, page in orjson.loads(path.read_bytes()).items():
        name, n = key.rsplit(":", 1)
        _DATA[(name, int(n))] = page


_load()
app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)])
