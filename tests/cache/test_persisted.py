"""Automatic persisted queries (Apollo APQ) and trusted-documents mode, over the real app."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app import cli
from app.persisted import PersistedQueries, TrustedDocuments, load_manifest
from resolvers.context import Context
from schema.build import build_schema
from tests.cache.helpers import PRICES, apq, cache_app, dump, get, post, seed, sha

VARS = {"n": 2}


def not_found(resp: Any) -> bool:
    body = resp.json()
    return (
        resp.status_code == 200
        and body["errors"][0]["message"] == "PersistedQueryNotFound"
        and body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        and "data" not in body
    )


async def test_apq_miss_register_then_hash_only_over_post_and_get(db, tmp_path):
    await seed(db.sessions, 2)
    async with cache_app(db.url, tmp_path, response_cache_enabled=False) as capp:
        c = capp.client
        miss = await post(c, None, VARS, extensions=apq(PRICES))
        assert not_found(miss), dump(miss)
        assert miss.headers["cache-control"] == "private, no-cache, must-revalidate"
        miss_get = await get(c, None, VARS, extensions=apq(PRICES), headers={"accept": "*/*"})
        assert not_found(miss_get), dump(miss_get)

        full = await post(c, PRICES, VARS, extensions=apq(PRICES))
        assert full.status_code == 200, dump(full)
        expected = full.json()["data"]
        assert [n["canonicalId"] for n in expected["assets"]["nodes"]] == ["coin-000", "coin-001"]

        by_hash = await post(c, None, VARS, extensions=apq(PRICES))
        assert by_hash.json()["data"] == expected, dump(by_hash)
        # a browser-like GET with only the hash must execute, not get GraphiQL's HTML
        for accept in ("text/html,application/xhtml+xml,*/*;q=0.8", "*/*"):
            resp = await get(c, None, VARS, extensions=apq(PRICES), headers={"accept": accept})
            assert resp.status_code == 200, dump(resp)
            assert resp.headers["content-type"].startswith("application/json"), dump(resp)
            assert resp.json()["data"] == expected


async def test_a_hash_that_does_not_match_the_document_is_refused(db, tmp_path):
    await seed(db.sessions, 1)
    async with cache_app(db.url, tmp_path) as capp:
        c = capp.client
        wrong = {"persistedQuery": {"version": 1, "sha256Hash": sha(PRICES + " ")}}
        resp = await post(c, PRICES, VARS, extensions=wrong)
        assert resp.status_code == 400, dump(resp)
        assert resp.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
        # the bad pair registered nothing under either hash
        assert not_found(await post(c, None, VARS, extensions=wrong))
        assert not_found(await post(c, None, VARS, extensions=apq(PRICES)))
        # malformed persistedQuery members are plain bad requests
        for ext in (
            {"persistedQuery": {"version": 2, "sha256Hash": sha(PRICES)}},
            {"persistedQuery": {"version": 1, "sha256Hash": "xyz"}},
        ):
            resp = await post(c, None, VARS, extensions=ext)
            assert resp.status_code == 400, dump(resp)
            assert resp.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_documents_that_fail_validation_are_not_registered(db, tmp_path):
    async with cache_app(db.url, tmp_path) as capp:
        c = capp.client
        bad = "{ assets { nope } }"
        resp = await post(c, bad, extensions=apq(bad))
        assert resp.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert not_found(await post(c, None, extensions=apq(bad)))


async def test_apq_can_be_turned_off(db, tmp_path):
    async with cache_app(db.url, tmp_path, persisted_queries_enabled=False) as capp:
        resp = await post(capp.client, PRICES, VARS, extensions=apq(PRICES))
        body = resp.json()
        assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"
        assert body["errors"][0]["message"] == "PersistedQueryNotSupported"


async def test_trusted_documents_mode_runs_only_the_manifest(db, tmp_path):
    await seed(db.sessions, 2)
    manifest = tmp_path / "trusted.json"
    manifest.write_text(json.dumps({sha(PRICES): PRICES}))
    other = "query Other { assets(first: 1) { nodes { symbol } } }"
    async with cache_app(
        db.url, tmp_path, persisted_trusted_only=True, persisted_manifest=str(manifest)
    ) as capp:
        c = capp.client
        by_hash = await get(c, None, VARS, extensions=apq(PRICES))
        assert by_hash.status_code == 200 and "errors" not in by_hash.json(), dump(by_hash)
        as_text = await post(c, PRICES, VARS)
        assert as_text.json()["data"] == by_hash.json()["data"], dump(as_text)

        for resp in (
            await post(c, other),
            await get(c, other),
            await post(c, other, extensions=apq(other)),  # APQ registration is off
        ):
            assert resp.status_code == 400, dump(resp)
            assert resp.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
        assert not_found(await post(c, None, extensions=apq(other)))

        # registering it with the CLI takes effect without a restart
        doc = tmp_path / "other.graphql"
        doc.write_text(other)
        assert cli.main(["persisted", "add", str(doc), "--manifest", str(manifest)]) == 0
        assert load_manifest(manifest)[sha(other)] == other
        capp.services["persisted"].manifest._checked = 0.0  # skip the once-a-second throttle
        resp = await post(c, None, extensions=apq(other))
        assert resp.status_code == 200 and "errors" not in resp.json(), dump(resp)


def test_a_manifest_entry_whose_hash_is_wrong_fails_the_load(tmp_path):
    manifest = tmp_path / "bad.json"
    manifest.write_text(json.dumps({sha("{ a }"): "{ b }"}))
    with pytest.raises(ValueError, match="not the sha256"):
        load_manifest(manifest)
    apollo = tmp_path / "apollo.json"
    body = "query Q { __typename }"
    apollo.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": sha(body), "body": body, "name": "Q", "type": "query"}],
            }
        )
    )
    assert load_manifest(apollo) == {sha(body): body}


async def test_the_trusted_guard_covers_operations_that_bypass_the_http_view(tmp_path):
    """WebSocket operations reach the schema directly: the extension refuses them too."""
    manifest = tmp_path / "trusted.json"
    allowed = "{ __typename }"
    manifest.write_text(json.dumps({sha(allowed): allowed}))
    store = PersistedQueries(trusted_only=True, manifest=str(manifest))
    schema = build_schema(extensions=[TrustedDocuments])

    def context() -> Any:
        ctx: Any = object.__new__(Context)
        object.__setattr__(ctx, "services", {"persisted": store})
        return ctx

    ok = await schema.execute(allowed, context_value=context())
    assert not ok.errors and ok.data == {"__typename": "Query"}
    refused = await schema.execute("{ __typename __typename }", context_value=context())
    assert refused.data is None
    assert refused.errors[0].extensions["code"] == "PERSISTED_QUERY_REQUIRED"
