"""/healthz, /readyz (database at head + registered checks), /metrics, tracing switch."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from app import health
from app.main import create_app
from app.metrics import Metrics
from tests.conftest import _WithState, make_settings


@asynccontextmanager
async def app_with_state(settings):
    """Like ``running_app`` but also hands out the lifespan state (to register checks)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, state


def samples(metrics_text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(metrics_text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(found, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_healthz(http):
    resp = await http.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


async def test_readyz_ready_when_migrated_to_head(api):
    resp = await api.get("/readyz")
    assert resp.status_code == 200, resp.text
    check = resp.json()["checks"]["database"]
    assert check["ok"] is True
    assert check["revision"] == check["head"] is not None


async def test_readyz_not_ready_when_the_schema_is_behind(db):
    async with db.sessions() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = 'old'"))
        await session.commit()
    async with app_with_state(make_settings(db.url)) as (client, _state):
        resp = await client.get("/readyz")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["revision"] == "old"


async def test_readyz_runs_registered_checks_with_a_timeout(server_db, monkeypatch):
    async def fine():
        return True, {"lag": 0}

    async def hung():
        await asyncio.sleep(30)
        return True, {}

    async def broken():
        raise ConnectionError("redis://user:secret@host")

    async with app_with_state(make_settings(server_db)) as (client, state):
        health.register_readiness(state["services"], "feed", fine)
        ok = await client.get("/readyz")
        assert ok.status_code == 200, ok.text
        assert ok.json()["checks"]["feed"] == {"ok": True, "lag": 0}

        monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.5)
        health.register_readiness(state["services"], "slow", hung)
        health.register_readiness(state["services"], "cache", broken)
        resp = await client.get("/readyz")
    assert resp.status_code == 503
    checks = resp.json()["checks"]
    assert checks["slow"]["ok"] is False and "timed out" in checks["slow"]["error"]
    assert checks["cache"] == {"ok": False, "error": "ConnectionError"}
    assert "secret" not in resp.text


async def test_metrics_count_operations_errors_sql_and_loader_batches(api):
    query = 'query Dash { a: asset(id: "x") { symbol } b: asset(id: "y") { symbol } }'
    for _ in range(2):
        assert (await api.post("/graphql", json={"query": query})).status_code == 200
    await api.post("/graphql", json={"query": "{ nope }"})
    await api.post("/graphql", content=b"\xff", headers={"content-type": "application/json"})

    resp = await api.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    found = samples(resp.text)

    assert (
        value(
            found,
            "cryptoql_graphql_requests_total",
            operation="Dash",
            type="query",
            outcome="ok",
        )
        == 2
    )
    assert value(found, "cryptoql_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1
    assert value(found, "cryptoql_graphql_errors_total", code="BAD_REQUEST") == 1
    assert value(found, "cryptoql_graphql_request_duration_seconds_count", operation="Dash") == 2
    assert value(found, "cryptoql_sql_statements_per_request_count", operation="Dash") == 2
    assert value(found, "cryptoql_sql_statements_per_request_sum", operation="Dash") >= 2
    loaders = {
        dict(labels)["loader"]: (v, found[("cryptoql_loader_batch_size_count", labels)])
        for (name, labels), v in found.items()
        if name == "cryptoql_loader_batch_size_sum"
    }
    # Each Dash request loads its two aliased assets in one batch of 2 keys.
    assert any(count >= 2 and total == 2 * count for total, count in loaders.values()), loaders
    assert (
        value(found, "cryptoql_http_requests_total", route="/graphql", method="POST", status="400")
        == 1
    )


async def test_metrics_show_compiled_runs_and_fallbacks(api):
    def executions(text: str) -> dict[str, float]:
        return {
            dict(labels)["path"]: v
            for (name, labels), v in samples(text).items()
            if name == "cryptoql_graphql_executions_total"
        }

    before = executions((await api.get("/metrics")).text)
    plain = '{ asset(id: "x") { symbol } }'
    introspection = "{ __schema { queryType { name } } }"
    for query in (plain, plain, introspection):
        assert (await api.post("/graphql", json={"query": query})).status_code == 200
    after = executions((await api.get("/metrics")).text)
    assert after["compiled"] - before.get("compiled", 0) == 2
    assert after["fallback:introspection"] - before.get("fallback:introspection", 0) == 1


def test_operation_labels_are_bounded():
    metrics = Metrics(max_operation_names=3)
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("x y") == "invalid"
    assert metrics.operation_label("a" * 65) == "invalid"
    assert [metrics.operation_label(n) for n in ("A", "B", "C", "D", "A")] == [
        "A",
        "B",
        "C",
        "other",
        "A",
    ]


async def test_metrics_can_be_turned_off(server_db):
    async with app_with_state(make_settings(server_db, metrics_enabled=False)) as (client, _):
        assert (await client.get("/metrics")).status_code == 404


async def test_otel_without_the_packages_logs_a_clear_error_and_serves(server_db, caplog):
    caplog.set_level(logging.ERROR, logger="cryptoql.tracing")
    async with app_with_state(make_settings(server_db, otel_enabled=True)) as (client, _):
        resp = await client.post("/graphql", json={"query": "{ __typename }"})
    assert resp.status_code == 200
    messages = [r.getMessage() for r in caplog.records if r.name == "cryptoql.tracing"]
    assert messages and "OpenTelemetry is not installed" in messages[0]
