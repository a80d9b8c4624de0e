"""/healthz, /readyz (database at head + registered checks), /metrics, tracing switch."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from app import health
from app.logging import RequestInfo
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


async def test_metrics_keep_each_operation_apart(server_db):
    queries = {
        "A": 'query A { asset(id: "x") { symbol } }',
        "B": "query B { __typename }",
        "anonymous": "{ __typename }",
    }
    order = ["A", "B", "A", "anonymous", "A", "B"]
    async with app_with_state(make_settings(server_db)) as (client, _):
        for name in order:
            resp = await client.post("/graphql", json={"query": queries[name]})
            assert resp.status_code == 200, resp.text
        await client.get("/graphql?query=%7B__typename%7D")
        await client.post("/graphql", content=b"{", headers={"content-type": "application/json"})
        found = samples((await client.get("/metrics")).text)
    for name in queries:
        ok = order.count(name) + (name == "anonymous")  # and the GET
        labels = {"operation": name, "type": "query"}
        assert value(found, "cryptoql_graphql_requests_total", **labels, outcome="ok") == ok
        everything = ok + (name == "anonymous")  # and the unreadable body
        for histogram in ("graphql_request_duration_seconds", "sql_statements_per_request"):
            assert value(found, f"cryptoql_{histogram}_count", operation=name) == everything
    unreadable = {"operation": "anonymous", "type": "none", "outcome": "error"}
    assert value(found, "cryptoql_graphql_requests_total", **unreadable) == 1
    http = {"route": "/graphql"}
    assert value(found, "cryptoql_http_requests_total", **http, method="POST", status="200") == 6
    assert value(found, "cryptoql_http_requests_total", **http, method="GET", status="200") == 1
    assert value(found, "cryptoql_http_requests_total", **http, method="POST", status="400") == 1
    assert value(found, "cryptoql_http_request_duration_seconds_count", **http) == 8


def _info(name: str | None, kind: str | None = "query", *errors: str) -> RequestInfo:
    return RequestInfo(
        request_id="r", operation_name=name, operation_type=kind, error_codes=list(errors)
    )


def test_metrics_record_every_label_set_with_its_own_figures():
    metrics = Metrics(max_operation_names=2)
    http = [
        ("/graphql", "POST", 200, 0.5),
        ("/graphql", "POST", 200, 0.25),
        ("/graphql", "GET", 200, 2.0),
        ("/graphql", "POST", 400, 4.0),
        ("/healthz", "GET", 200, 8.0),
        ("other", "GET", 404, 16.0),
    ]
    for route, method, status, seconds in http:
        metrics.observe_http(route, method, status, seconds)
    graphql = [
        (_info("A"), 0.5, 3),
        (_info("B"), 0.25, 5),
        (_info("A", "query", "BAD_USER_INPUT"), 2.0, 1),
        (_info("A"), 4.0, 2),
        (_info(None), 8.0, 0),
        (_info("C"), 16.0, 7),  # a third name: "other"
        (_info("D", "mutation"), 32.0, 11),  # "other" too
        (_info("x y", None, "NOPE"), 64.0, 0),  # "invalid", no type, an unknown code
    ]
    for info, seconds, sql in graphql:
        metrics.observe_graphql(info, seconds, sql)
    for loader, size in [
        ("AssetByIdLoader", 3),
        ("QuotesByAssetLoader", 5),
        ("AssetByIdLoader", 2),
    ]:
        metrics.observe_batch(loader, size)
    found = samples(generate_latest(metrics.registry).decode())

    def series(name: str) -> dict[frozenset, float]:
        return {labels: v for (n, labels), v in found.items() if n == name}

    def keyed(**labels: str) -> frozenset:
        return frozenset(labels.items())

    assert series("cryptoql_http_requests_total") == {
        keyed(route="/graphql", method="POST", status="200"): 2,
        keyed(route="/graphql", method="GET", status="200"): 1,
        keyed(route="/graphql", method="POST", status="400"): 1,
        keyed(route="/healthz", method="GET", status="200"): 1,
        keyed(route="other", method="GET", status="404"): 1,
    }
    assert series("cryptoql_http_request_duration_seconds_sum") == {
        keyed(route="/graphql"): 6.75,
        keyed(route="/healthz"): 8.0,
        keyed(route="other"): 16.0,
    }
    assert series("cryptoql_graphql_requests_total") == {
        keyed(operation="A", type="query", outcome="ok"): 2,
        keyed(operation="A", type="query", outcome="error"): 1,
        keyed(operation="B", type="query", outcome="ok"): 1,
        keyed(operation="anonymous", type="query", outcome="ok"): 1,
        keyed(operation="other", type="query", outcome="ok"): 1,
        keyed(operation="other", type="mutation", outcome="ok"): 1,
        keyed(operation="invalid", type="none", outcome="error"): 1,
    }
    by_operation = {"A": 6.5, "B": 0.25, "anonymous": 8.0, "other": 48.0, "invalid": 64.0}
    assert series("cryptoql_graphql_request_duration_seconds_sum") == {
        keyed(operation=op): seconds for op, seconds in by_operation.items()
    }
    statements = {"A": 6, "B": 5, "anonymous": 0, "other": 18, "invalid": 0}
    assert series("cryptoql_sql_statements_per_request_sum") == {
        keyed(operation=op): n for op, n in statements.items()
    }
    assert series("cryptoql_graphql_errors_total") == {
        keyed(code="BAD_USER_INPUT"): 1,
        keyed(code="OTHER"): 1,
    }
    assert series("cryptoql_loader_batch_size_sum") == {
        keyed(loader="AssetByIdLoader"): 5,
        keyed(loader="QuotesByAssetLoader"): 5,
    }
    assert series("cryptoql_loader_batch_size_count") == {
        keyed(loader="AssetByIdLoader"): 2,
        keyed(loader="QuotesByAssetLoader"): 1,
    }


def test_random_operation_names_add_no_label_sets_beyond_the_bound():
    metrics = Metrics(max_operation_names=3)
    for i in range(300):
        metrics.observe_graphql(_info(f"op{i}"), 0.01, 1)
        metrics.observe_graphql(_info(f"not a name {i}"), 0.01, 1)
    found = samples(generate_latest(metrics.registry).decode())
    exported = {
        dict(labels)["operation"]
        for (name, labels) in found
        if name == "cryptoql_graphql_requests_total"
    }
    assert exported == {"op0", "op1", "op2", "other", "invalid"}
    # the label children kept for the request path: one per exported label set, no more
    assert len(metrics._graphql) == len(exported)


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
