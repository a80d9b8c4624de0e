"""Every way a key can be presented over HTTP gets its documented answer (both DB backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.auth import keyformat
from tests.keys.conftest import QUERY, engine_statements, error_of, keyed_app, post


async def test_missing_key_is_anonymous_by_default(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        resp = await post(k.client)
    assert resp.status_code == 200
    assert resp.json()["data"] == {"asset": None}


async def test_missing_key_refused_when_anonymous_is_off(db, tmp_path):
    async with keyed_app(db.url, tmp_path, anonymous_enabled=False) as k:
        issued = await k.issue()
        refused = await post(k.client)
        accepted = await post(k.client, **{"X-API-Key": issued.key})
    status, code, message = error_of(refused)
    assert (status, code) == (401, "UNAUTHENTICATED")
    assert "X-API-Key" in message
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert accepted.status_code == 200


async def test_valid_key_in_either_header(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue()
        by_header = await post(k.client, **{"X-API-Key": issued.key})
        by_bearer = await post(k.client, Authorization=f"Bearer {issued.key}")
    assert by_header.status_code == by_bearer.status_code == 200
    assert by_header.json()["data"] == by_bearer.json()["data"] == {"asset": None}


def _typo(key: str) -> str:
    """One character of the secret changed: a well-formed key whose checksum no longer fits."""
    i = len(key) - keyformat.CHECKSUM_LENGTH - 3
    return key[:i] + ("A" if key[i] != "A" else "B") + key[i + 1 :]


@pytest.mark.parametrize(
    "presented",
    [
        pytest.param("not-a-key", id="garbage"),
        pytest.param("cq_test_short_abc", id="truncated"),
        pytest.param("x" * 5000, id="huge"),
        pytest.param("TYPO", id="bad-checksum"),
    ],
)
async def test_malformed_and_bad_checksum_rejected_without_sql(db, tmp_path, presented):
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue()
        if presented == "TYPO":
            presented = _typo(issued.key)
            with pytest.raises(keyformat.KeyFormatError, match="bad_checksum"):
                keyformat.parse(presented)
        with engine_statements(k) as refused_sql:
            resp = await post(k.client, **{"X-API-Key": presented})
        # Control: the counter does see the lookup of a well-formed unknown key.
        unknown = keyformat.compose("test", keyformat.random_token(12), "s" * 30)
        with engine_statements(k) as lookup_sql:
            await post(k.client, **{"X-API-Key": unknown})
    assert error_of(resp) == (401, "INVALID_API_KEY", "Invalid API key")
    assert refused_sql == []
    assert any("api_keys" in s for s in lookup_sql)


async def test_unknown_id_and_wrong_secret_look_the_same(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue()
        parts = keyformat.parse(issued.key)
        wrong = keyformat.compose(parts.mode, parts.key_id, keyformat.random_token(30))
        unknown = keyformat.compose(parts.mode, keyformat.random_token(12), parts.secret)
        r_wrong = await post(k.client, **{"X-API-Key": wrong})
        r_unknown = await post(k.client, **{"X-API-Key": unknown})
    assert error_of(r_wrong) == error_of(r_unknown) == (401, "INVALID_API_KEY", "Invalid API key")
    assert r_wrong.content == r_unknown.content


async def test_test_key_is_refused_by_a_production_server(db, tmp_path):
    test_key = keyformat.compose("test", keyformat.random_token(12), keyformat.random_token(30))
    async with keyed_app(db.url, tmp_path, env="production") as k:
        with engine_statements(k) as sql:
            resp = await post(k.client, **{"X-API-Key": test_key})
    assert error_of(resp)[:2] == (401, "INVALID_API_KEY")
    assert sql == []


async def test_revoked_key(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue()
        assert (await post(k.client, **{"X-API-Key": issued.key})).status_code == 200
        await k.admin.revoke(issued.record.id)
        k.service.invalidate(issued.record.id)  # this instance; others: see test_revocation_*
        resp = await post(k.client, **{"X-API-Key": issued.key})
    assert error_of(resp) == (401, "API_KEY_REVOKED", "This API key has been revoked")


async def test_expired_key(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        expires = datetime.now(UTC) + timedelta(hours=1)
        issued = await k.issue(expires_at=expires)
        assert (await post(k.client, **{"X-API-Key": issued.key})).status_code == 200
        k.service.clock = lambda: expires + timedelta(seconds=1)
        resp = await post(k.client, **{"X-API-Key": issued.key})
    assert error_of(resp) == (401, "API_KEY_EXPIRED", "This API key has expired")


async def test_revoked_and_expired_are_only_told_to_secret_holders(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue()
        await k.admin.revoke(issued.record.id)
        k.service.invalidate(issued.record.id)
        parts = keyformat.parse(issued.key)
        guess = keyformat.compose(parts.mode, parts.key_id, keyformat.random_token(30))
        resp = await post(k.client, **{"X-API-Key": guess})
    assert error_of(resp)[:2] == (401, "INVALID_API_KEY")


async def test_ip_allowlist(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue(allow_ips=["10.0.0.0/8", "2001:db8::/32"])
        async with k.client_from("10.1.2.3") as inside, k.client_from("192.0.2.1") as outside:
            ok = await post(inside, **{"X-API-Key": issued.key})
            refused = await post(outside, **{"X-API-Key": issued.key})
        async with k.client_from("::ffff:10.9.9.9") as mapped, k.client_from("2001:db8::1") as v6:
            ok_mapped = await post(mapped, **{"X-API-Key": issued.key})
            ok_v6 = await post(v6, **{"X-API-Key": issued.key})
    assert ok.status_code == ok_mapped.status_code == ok_v6.status_code == 200
    status, code, message = error_of(refused)
    assert (status, code) == (403, "FORBIDDEN")
    assert "address" in message


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"api_key": "anything"}, id="api_key"),
        pytest.param({"apiKey": "anything"}, id="apiKey"),
        pytest.param({"access_token": "anything"}, id="access_token"),
        pytest.param({"x": "KEY"}, id="key-as-any-value"),
        pytest.param({"variables": '{"k":"KEY"}'}, id="key-in-variables"),
    ],
)
async def test_key_in_query_string_is_refused(db, tmp_path, params):
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue()
        params = {name: value.replace("KEY", issued.key) for name, value in params.items()}
        with engine_statements(k) as sql:
            on_get = await k.client.get("/graphql", params={"query": QUERY, **params})
            on_post = await k.client.post("/graphql", params=params, json={"query": QUERY})
            on_health = await k.client.get("/healthz", params=params)
    for resp in (on_get, on_post, on_health):
        status, code, message = error_of(resp)
        assert (status, code) == (400, "KEY_IN_URL")
        assert "never be sent in a URL" in message
        assert issued.key not in resp.text
    assert sql == []


async def test_conflicting_or_foreign_credentials_are_refused(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        a, b = await k.issue(), await k.issue()
        both = await post(k.client, **{"X-API-Key": a.key, "Authorization": f"Bearer {b.key}"})
        basic = await post(k.client, Authorization="Basic dXNlcjpwYXNz")
        same = await post(k.client, **{"X-API-Key": a.key, "Authorization": f"Bearer {a.key}"})
    assert error_of(both)[:2] == error_of(basic)[:2] == (401, "INVALID_API_KEY")
    assert same.status_code == 200


async def test_graphiql_page_and_preflight_need_no_key(db, tmp_path):
    async with keyed_app(db.url, tmp_path, anonymous_enabled=False) as k:
        page = await k.client.get("/graphql", headers={"Accept": "text/html"})
        query = await k.client.get("/graphql", params={"query": QUERY})
    # Whatever the server does with the page (GraphiQL or 404 when disabled), it is not a 401.
    assert page.status_code != 401
    assert error_of(query)[:2] == (401, "UNAUTHENTICATED")
