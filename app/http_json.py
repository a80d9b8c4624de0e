"""JSON in and out of the GraphQL endpoint, and the media-type negotiation.

Decoding is the first thing hostile bytes reach. Plain strawberry turns
invalid UTF-8 and deeply nested JSON into HTTP 500 (``UnicodeDecodeError`` and
``RecursionError`` escape its ``JSONDecodeError`` handler) and accepts ``NaN``.
Here every failure is a :class:`json.JSONDecodeError`: the HTTP view answers
400 and the WebSocket transport closes with 4400, which is what both protocols
specify. orjson rejects invalid UTF-8, lone surrogates, ``NaN``/``Infinity``,
numbers that overflow to infinity (``1e999``) and nesting beyond 1024; we add
a much lower nesting cap, since no GraphQL request needs deep variables.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def _too_deep(value: object, limit: int) -> bool:
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Any
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def decode_json(data: str | bytes, *, max_depth: int) -> object:
    """Parse strict JSON; raise :class:`json.JSONDecodeError` for anything else."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise
    except (TypeError, ValueError) as exc:  # not str/bytes, or an encoding problem
        raise json.JSONDecodeError(str(exc), "", 0) from exc
    # Fewer opening brackets than the limit cannot nest past it: skip the walk.
    opener_count = (
        data.count(b"[") + data.count(b"{")
        if isinstance(data, bytes)
        else data.count("[") + data.count("{")
    )
    if opener_count > max_depth and _too_deep(value, max_depth):
        raise json.JSONDecodeError(f"JSON nested deeper than {max_depth} levels", "", 0)
    return value


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode_json(data: object) -> bytes:
    return orjson.dumps(data, default=_default)


def _q(params: list[str]) -> float:
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def negotiate(accept: str | None) -> str:
    """The response media type for an ``Accept`` header (GraphQL over HTTP).

    ``application/graphql-response+json`` when the client lists it at least as
    high as ``application/json``; ``application/json`` otherwise, including for
    a missing header, ``*/*`` and headers that accept neither (a lenient answer
    beats a 406 for a JSON API).
    """
    if not accept:
        return JSON
    q_graphql = q_json = q_wild = -1.0
    for part in accept[:2048].split(","):
        media, *params = part.split(";")
        media = media.strip().lower()
        q = _q(params)
        if media == GRAPHQL_RESPONSE_JSON:
            q_graphql = max(q_graphql, q)
        elif media == JSON:
            q_json = max(q_json, q)
        elif media in ("application/*", "*/*"):
            q_wild = max(q_wild, q)
    if q_json < 0:
        q_json = q_wild
    if q_graphql > 0 and q_graphql >= q_json:
        return GRAPHQL_RESPONSE_JSON
    return JSON


def parse_content_type(header: str | None) -> tuple[str, dict[str, str]]:
    """``"application/json; charset=UTF-8"`` -> ``("application/json", {"charset": "utf-8"})``."""
    media, *raw = (header or "").split(";")
    params: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), params
