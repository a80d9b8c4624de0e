"""Hostile bytes never become a 500: JSON guard, body cap, query-string cap."""

from __future__ import annotations

import json

import pytest

from app.http_json import decode_json
from app.main import create_app
from app.settings import Settings
from tests.conftest import make_settings, running_app

LIMIT = Settings().max_body_bytes
DEPTH = Settings().max_json_depth


def nested(levels: int) -> object:
    value: object = []
    for _ in range(levels - 1):
        value = [value]
    return value


async def post_raw(client, body: bytes, **headers: str):
    return await client.post(
        "/graphql", content=body, headers={"content-type": "application/json", **headers}
    )


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe",
        b'{"query": "{ __typename }\xc3"}',
        b'{"query": "\xed\xa0\x80"}',  # an encoded lone surrogate
        b'{"query": "\\ud800"}',  # an escaped lone surrogate
        b'{"query": "{ __typename }", "variables": {"x": NaN}}',
        b'{"query": "{ __typename }", "variables": {"x": Infinity}}',
        b'{"query": "{ __typename }", "variables": {"x": -Infinity}}',
        b'{"query": "{ __typename }", "variables": {"x": 1e999}}',
        b"\xef\xbb\xbf" + b'{"query": "{ __typename }"}',  # BOM
        b'{"query": "{ __typename }"} {"query": "{ __typename }"}',
        b'{"query": "{ __typename ',
        b"",
        b"[" * 100_000,
        b"[" * 60_000 + b"]" * 60_000,
        b'{"query":"{ __typename }","variables":' + b'{"a":' * 20_000 + b"1" + b"}" * 20_001,
    ],
)
async def test_malformed_json_is_400_with_a_json_error(http, body):
    resp = await post_raw(http, body[:LIMIT])
    assert resp.status_code == 400, resp.text
    assert resp.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_json_nesting_limit_boundary(http):
    # The body object is level 1; `extensions` is ignored by the server.
    at_limit = {"query": "{ __typename }", "extensions": {"x": nested(DEPTH - 2)}}
    resp = await post_raw(http, json.dumps(at_limit).encode())
    assert resp.status_code == 200, resp.text
    over = {"query": "{ __typename }", "extensions": {"x": nested(DEPTH - 1)}}
    resp = await post_raw(http, json.dumps(over).encode())
    assert resp.status_code == 400
    assert f"deeper than {DEPTH}" in resp.json()["errors"][0]["message"]


def test_decoder_raises_only_json_decode_errors():
    for bad in (b"\xff", "[" * 5000, b'{"a": NaN}', "\ud800", b"1e999"):
        with pytest.raises(json.JSONDecodeError):
            decode_json(bad, max_depth=32)


async def test_variables_in_get_are_guarded_too(http):
    resp = await http.get(
        "/graphql", params={"query": "{ __typename }", "variables": "[" * 40 + "]" * 40}
    )
    assert resp.status_code == 400
    resp = await http.get("/graphql", params={"query": "{ __typename }", "variables": "NaN"})
    assert resp.status_code == 400


async def test_body_cap_by_content_length(http):
    padding = " " * (LIMIT - len('{"query":"{ __typename }"}'))
    exactly = ('{"query":"{ __typename }"}' + padding).encode()
    assert len(exactly) == LIMIT
    assert (await post_raw(http, exactly)).status_code == 200
    resp = await post_raw(http, exactly + b" ")
    assert resp.status_code == 413
    assert resp.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_body_cap_counts_the_stream_not_only_the_header(http):
    async def chunks():
        yield b'{"query":"{ __typename }"}'
        for _ in range(LIMIT // 1024 + 2):
            yield b" " * 1024

    resp = await http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in resp.request.headers
    assert resp.status_code == 413
    assert resp.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_query_string_cap(server_db):
    async with running_app(create_app(make_settings(server_db, max_body_bytes=4096))) as client:
        ok = await client.get("/graphql", params={"query": "{ __typename }" + " " * 3000})
        assert ok.status_code == 200
        resp = await client.get("/graphql", params={"query": "{ __typename }" + " " * 5000})
        assert resp.status_code == 414
        assert resp.json()["errors"][0]["extensions"]["code"] == "URI_TOO_LONG"


async def test_bad_content_length_is_400(http):
    resp = await post_raw(http, b'{"query":"{ __typename }"}', **{"content-length": "12x"})
    assert resp.status_code == 400


async def test_request_time_limit_answers_503_with_retry_after(server_db):
    settings = make_settings(server_db, request_timeout_seconds=1e-6)
    async with running_app(create_app(settings)) as client:
        resp = await client.post("/graphql", json={"query": '{ asset(id: "bitcoin") { symbol } }'})
    assert resp.status_code == 503
    assert resp.headers["retry-after"] == "1"
    error = resp.json()["errors"][0]
    assert error["extensions"]["code"] == "REQUEST_TIMEOUT"
    assert error["extensions"]["requestId"] == resp.headers["x-request-id"]
