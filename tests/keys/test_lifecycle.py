"""Rotation overlap, the audit trail, append-only storage, secrets never shown, WS entry point."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.auth import AuthError, authenticate, keyformat
from storage.models import ApiKeyAuditEvent
from tests.keys.conftest import CLIENT_IP, error_of, keyed_app, post


async def test_rotation_keeps_the_old_secret_valid_for_the_overlap(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        old = await k.issue()
        new = await k.admin.rotate(old.record.id, timedelta(hours=2))
        k.service.invalidate(old.record.id)
        assert keyformat.parse(new.key).key_id == old.record.id  # same id, new secret
        assert new.key != old.key
        during_old = await post(k.client, **{"X-API-Key": old.key})
        during_new = await post(k.client, **{"X-API-Key": new.key})
        assert new.record.previous_valid_until is not None
        later = new.record.previous_valid_until + timedelta(seconds=1)
        k.service.clock = lambda: later
        after_old = await post(k.client, **{"X-API-Key": old.key})
        after_new = await post(k.client, **{"X-API-Key": new.key})
    assert during_old.status_code == during_new.status_code == after_new.status_code == 200
    assert error_of(after_old) == (401, "INVALID_API_KEY", "Invalid API key")


async def test_rotating_twice_drops_the_first_secret_at_once(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        first = await k.issue()
        second = await k.admin.rotate(first.record.id, timedelta(hours=1))
        third = await k.admin.rotate(first.record.id, timedelta(hours=1))
        k.service.invalidate(first.record.id)
        statuses = [
            (await post(k.client, **{"X-API-Key": key})).status_code
            for key in (first.key, second.key, third.key)
        ]
    assert statuses == [401, 200, 200]


async def test_audit_trail_records_changes_and_failures_without_secrets(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue(allow_ips=["10.0.0.0/8"])
        parts = keyformat.parse(issued.key)
        wrong = keyformat.compose(parts.mode, parts.key_id, keyformat.random_token(30))
        unknown_id = keyformat.random_token(12)
        unknown = keyformat.compose(parts.mode, unknown_id, parts.secret)
        await post(k.client, **{"X-API-Key": wrong})
        await post(k.client, **{"X-API-Key": unknown})
        await post(k.client, **{"X-API-Key": issued.key})  # from outside the allowlist
        await post(k.client, **{"X-API-Key": "garbage"})  # no audit row: no DB work at all
        rotated = await k.admin.rotate(issued.record.id, timedelta(hours=1))
        await k.admin.revoke(issued.record.id)
        await k.service.audit.flush()
        events = await k.admin.audit(limit=100)
    seen = sorted((e.event, e.reason, e.key_id) for e in events)
    assert seen == sorted(
        [
            ("issued", None, parts.key_id),
            ("auth_failed", "wrong_secret", parts.key_id),
            ("auth_failed", "unknown_key", unknown_id),
            ("auth_failed", "ip_not_allowed", parts.key_id),
            ("rotated", None, parts.key_id),
            ("revoked", None, parts.key_id),
        ]
    )
    failures = [e for e in events if e.event == "auth_failed"]
    assert {e.client_ip for e in failures} == {CLIENT_IP}
    dump = repr(events)
    for key in (issued.key, rotated.key, wrong):
        assert keyformat.parse(key).secret not in dump


async def test_audit_log_is_append_only_in_the_database(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        await k.issue()
    for statement in (
        update(ApiKeyAuditEvent).values(reason="tampered"),
        delete(ApiKeyAuditEvent),
    ):
        async with db.sessions() as session, session.begin():
            with pytest.raises((DBAPIError, IntegrityError), match="append-only"):
                await session.execute(statement)


async def test_secrets_never_reach_logs_or_bodies(db, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue(allow_ips=["10.0.0.0/8"])
        parts = keyformat.parse(issued.key)
        wrong = keyformat.compose(parts.mode, parts.key_id, keyformat.random_token(30))
        presented = [issued.key, wrong, issued.key[:-1] + "x", issued.key + "extra"]
        for key in presented:
            bodies.append((await post(k.client, **{"X-API-Key": key})).text)
            bodies.append((await post(k.client, Authorization=f"Bearer {key}")).text)
            bodies.append((await k.client.get("/graphql", params={"key": key})).text)
        await k.admin.revoke(issued.record.id)
        k.service.invalidate(issued.record.id)
        bodies.append((await post(k.client, **{"X-API-Key": issued.key})).text)
        # Someone else's code logging a URL with a key in it is redacted too.
        logging.getLogger("test.thirdparty").info("GET /graphql?api_key=%s", issued.key)
        await k.service.audit.flush()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "api key refused" in logged  # the failures were logged …
    assert "[REDACTED]" in logged
    for text in (logged, *bodies):
        for key in presented:
            secret = keyformat.parse(issued.key).secret
            assert secret not in text
            assert key not in text


async def test_authenticate_entry_point_for_websockets(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue(scopes=["prices", "streaming"], tier="pro")
        services = k.state["services"]
        principal = await authenticate(services, issued.key, "198.51.100.4")
        anonymous = await authenticate(k.state, None, "198.51.100.4")
        with pytest.raises(AuthError) as refused:
            await authenticate(services, issued.key[:-2], "198.51.100.4")
    assert principal.key_id == issued.record.id
    assert principal.tier == "pro"
    assert principal.scopes == frozenset({"prices", "streaming"})
    assert principal.budget_key == f"key:{issued.record.id}"
    assert anonymous.is_anonymous
    assert "admin" not in anonymous.scopes
    assert refused.value.code == "INVALID_API_KEY"
    assert refused.value.body() == {
        "errors": [{"message": "Invalid API key", "extensions": {"code": "INVALID_API_KEY"}}]
    }


async def test_is_active_follows_revocation(db, tmp_path):
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue()
        before = await k.service.is_active(issued.record.id)
        await k.admin.revoke(issued.record.id)
        k.service.invalidate(issued.record.id)
        after = await k.service.is_active(issued.record.id)
    assert (before, after) == (True, False)
