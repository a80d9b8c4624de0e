"""Prometheus metrics, one registry per app (tests and several apps never collide).

What is measured: HTTP requests and latency per route; GraphQL requests and
latency per operation name; GraphQL errors by ``extensions.code``; SQL
statements per GraphQL request (``storage.instrument``); loader batch sizes
(``loaders.base.batch_observer``); operations by execution path (compiled plan or
a counted fallback to graphql-core's executor, ``schema.compiled.executor.STATS``).

Operation names come from clients, so they are bounded before they become a
label: names that are not plain GraphQL names become ``invalid``, a missing
name ``anonymous``, and once ``max_operation_names`` distinct names have been
seen, new ones are counted as ``other``. Error codes outside the registry are
counted as ``OTHER``. Without that, a client sending random operation names
would grow ``/metrics`` without bound.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from app.logging import RequestInfo, current_request
from resolvers.errors import ERROR_CODES
from schema.compiled.executor import STATS as EXECUTION_STATS

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SQL_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233)
_BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)


class _ExecutionPaths(Collector):
    """Operations by execution path, read from the executor's counters at scrape time
    (nothing is added to the request path): ``compiled``, ``reference`` (compiled
    execution off) and ``fallback:<reason>`` for documents plans do not model.
    Process-wide: every app in the process shares the executor."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "cryptoql_graphql_executions",
            "GraphQL operations executed, by path: compiled plan, reference executor, "
            "or fallback:<reason> to the reference executor.",
            labels=["path"],
        )
        for path, count in sorted(EXECUTION_STATS.items()):
            family.add_metric([path], count)
        yield family


class Metrics:
    def __init__(self, *, max_operation_names: int = 200) -> None:
        self.registry = CollectorRegistry()
        self.max_operation_names = max_operation_names
        self._operations: set[str] = set()
        r = self.registry
        self.http_requests = Counter(
            "cryptoql_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "cryptoql_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "cryptoql_http_requests_in_flight", "HTTP requests being served.", registry=r
        )
        self.graphql_requests = Counter(
            "cryptoql_graphql_requests",
            "GraphQL requests by operation name, type and outcome (ok or error).",
            ["operation", "type", "outcome"],
            registry=r,
        )
        self.graphql_latency = Histogram(
            "cryptoql_graphql_request_duration_seconds",
            "GraphQL request latency by operation name.",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.graphql_errors = Counter(
            "cryptoql_graphql_errors", "GraphQL errors by extensions.code.", ["code"], registry=r
        )
        self.sql_statements = Histogram(
            "cryptoql_sql_statements_per_request",
            "SQL statements issued while serving one GraphQL request.",
            ["operation"],
            buckets=_SQL_BUCKETS,
            registry=r,
        )
        self.loader_batch_size = Histogram(
            "cryptoql_loader_batch_size",
            "Keys per dataloader batch, by loader.",
            ["loader"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        r.register(_ExecutionPaths())
        # Label children by label values, filled as ``labels()`` creates them (so they
        # hold exactly the label sets the metrics hold: bounded as above). A request
        # then pays a dict lookup instead of ``labels()``'s checks and lock per metric.
        self._http: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._graphql: dict[tuple[str, str, str], tuple[Counter, Histogram, Histogram]] = {}
        self._batches: dict[str, Histogram] = {}

    def operation_label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if not _NAME.fullmatch(name):
            return "invalid"
        if name in self._operations:
            return name
        if len(self._operations) >= self.max_operation_names:
            return "other"
        self._operations.add(name)
        return name

    def observe_batch(self, loader: str, size: int) -> None:
        child = self._batches.get(loader)
        if child is None:
            child = self._batches[loader] = self.loader_batch_size.labels(loader)
        child.observe(size)

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._http.get(key)
        if children is None:
            children = self._http[key] = (
                self.http_requests.labels(route, method, str(status)),
                self.http_latency.labels(route),
            )
        requests, latency = children
        requests.inc()
        latency.observe(seconds)

    def observe_graphql(self, info: RequestInfo, seconds: float, sql_statements: int) -> None:
        operation = self.operation_label(info.operation_name)  # bounded before any lookup
        outcome = "error" if info.error_codes else "ok"
        key = (operation, info.operation_type or "none", outcome)
        children = self._graphql.get(key)
        if children is None:
            children = self._graphql[key] = (
                self.graphql_requests.labels(*key),
                self.graphql_latency.labels(operation),
                self.sql_statements.labels(operation),
            )
        requests, latency, statements = children
        requests.inc()
        latency.observe(seconds)
        statements.observe(sql_statements)
        for code in info.error_codes:
            self.graphql_errors.labels(code if code in ERROR_CODES else "OTHER").inc()

    async def endpoint(self, _request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class ObserveOperation(SchemaExtension):
    """Records the operation's name and type for the access log and the metrics."""

    def on_operation(self) -> Iterator[None]:
        yield
        info = current_request.get()
        if info is None:
            return
        ec = self.execution_context
        try:
            info.operation_name = ec.operation_name
            info.operation_type = ec.operation_type.value
        except Exception:
            info.operation_type = info.operation_type or None
