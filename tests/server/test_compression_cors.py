"""Compression (brotli, gzip, threshold, Vary) and the CORS origin allowlist."""

from __future__ import annotations

import gzip
import json

import brotli
import pytest

from app.compression import choose_encoding
from app.graphiql import STATIC_DIR
from app.main import create_app
from tests.conftest import make_settings, running_app

BIG_QUERY = "{ __schema { types { name description fields { name description } } } }"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate, br", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("*", "br"),
        ("identity", None),
        ("", None),
        ("gzip;q=0", None),
        ("br;q=nonsense, gzip;q=0.5", "gzip"),
    ],
)
def test_choose_encoding(header, expected):
    assert choose_encoding(header) == expected


@pytest.mark.parametrize(("encoding", "decode"), [("br", brotli.decompress), ("gzip", None)])
async def test_large_json_is_compressed(http, encoding, decode):
    resp = await http.post(
        "/graphql", json={"query": BIG_QUERY}, headers={"accept-encoding": encoding}
    )
    assert resp.status_code == 200
    assert resp.headers["content-encoding"] == encoding
    assert "accept-encoding" in resp.headers["vary"].lower()
    # httpx decodes transparently; the wire size is what was compressed
    assert int(resp.headers["content-length"]) < len(resp.content) / 3
    assert resp.json()["data"]["__schema"]["types"]


async def test_small_responses_and_identity_clients_are_not_compressed(http):
    small = await http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept-encoding": "br"}
    )
    assert "content-encoding" not in small.headers
    assert "accept-encoding" in small.headers["vary"].lower()
    plain = await http.post(
        "/graphql", json={"query": BIG_QUERY}, headers={"accept-encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert json.loads(plain.content)["data"]


async def test_streamed_static_files_are_compressed_chunk_by_chunk(http):
    original = (STATIC_DIR / "graphiql.min.js").read_bytes()
    for encoding, decompress in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        async with http.stream(
            "GET", "/static/graphiql/graphiql.min.js", headers={"accept-encoding": encoding}
        ) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-encoding"] == encoding
            assert "content-length" not in resp.headers
            wire = b"".join([chunk async for chunk in resp.aiter_raw()])
        assert len(wire) < len(original) / 3
        assert decompress(wire) == original


async def test_no_cross_origin_access_by_default(http):
    resp = await http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in resp.headers
    pre = await http.options(
        "/graphql",
        headers={
            "origin": "https://evil.example",
            "access-control-request-method": "POST",
        },
    )
    assert "access-control-allow-origin" not in pre.headers


async def test_allowlisted_origins_only(server_db):
    settings = make_settings(server_db, cors_origins=["https://app.example"])
    async with running_app(create_app(settings)) as client:
        pre = await client.options(
            "/graphql",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type, x-api-key",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-api-key" in pre.headers["access-control-allow-headers"].lower()

        resp = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"origin": "https://app.example"},
        )
        assert resp.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in resp.headers["access-control-expose-headers"].lower()

        other = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"origin": "https://evil.example"},
        )
        assert "access-control-allow-origin" not in other.headers
