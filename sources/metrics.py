"""Prometheus collectors for upstream traffic, retries, breakers and quarantine.

The app owns the ``CollectorRegistry`` (it serves ``/metrics``); this module
only registers its collectors on the registry it is given, through
:func:`register_metrics`. Keeping them off the global default registry means
tests and several apps in one process never collide on metric names.

Metrics (all labelled by ``source``):

- ``cryptoql_source_requests_total{source,outcome}``: every HTTP attempt, by
  outcome (``ok``, ``unavailable``, ``timeout``, ``rate_limited``, ``auth``,
  ``bad_request``, ``not_found``, ``decode``, ``circuit_open``);
- ``cryptoql_source_retries_total{source}``: attempts that were retries;
- ``cryptoql_source_retry_budget_exhausted_total{source}``: retries refused by the budget;
- ``cryptoql_source_quarantined_total{source,kind,reason}``: upstream records
  rejected by validation and never handed to ingest;
- ``cryptoql_source_breaker_state{source}``: 0 closed, 1 half-open, 2 open;
- ``cryptoql_source_last_success_timestamp_seconds{source}``: Unix time of the
  last good response (staleness alerts key on this).
"""

from __future__ import annotations

import threading
import weakref

from prometheus_client import CollectorRegistry, Counter, Gauge

BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class SourceMetrics:
    """The collectors, created on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "cryptoql_source_requests",
            "Upstream HTTP attempts by outcome.",
            ["source", "outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "cryptoql_source_retries",
            "Upstream attempts that were retries.",
            ["source"],
            registry=registry,
        )
        self.retry_budget_exhausted = Counter(
            "cryptoql_source_retry_budget_exhausted",
            "Retries refused because the retry budget was spent.",
            ["source"],
            registry=registry,
        )
        self.quarantined = Counter(
            "cryptoql_source_quarantined",
            "Upstream records rejected by validation (never written).",
            ["source", "kind", "reason"],
            registry=registry,
        )
        self.breaker_state = Gauge(
            "cryptoql_source_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["source"],
            registry=registry,
        )
        self.last_success = Gauge(
            "cryptoql_source_last_success_timestamp_seconds",
            "Unix time of the last good upstream response.",
            ["source"],
            registry=registry,
        )

    def set_breaker_state(self, source: str, state: str) -> None:
        self.breaker_state.labels(source=source).set(BREAKER_STATE_VALUES[state])


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, SourceMetrics] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def register_metrics(registry: CollectorRegistry) -> SourceMetrics:
    """Register the source collectors on ``registry`` (idempotent per registry)."""
    with _lock:
        metrics = _by_registry.get(registry)
        if metrics is None:
            metrics = SourceMetrics(registry)
            _by_registry[registry] = metrics
        return metrics


__all__ = ["BREAKER_STATE_VALUES", "SourceMetrics", "register_metrics"]
