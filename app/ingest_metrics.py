"""Ingest and per-source health on ``/metrics`` and ``/readyz``.

``/metrics`` gets two sets of figures, both on the app's own registry
(``services["metrics_registry"]``, provided by ``app.main``):

- the upstream adapters' collectors (``sources.metrics``: requests by
  outcome, retries, quarantined records, breaker state, last success), which
  the REST, Token Metrics and Ethereum clients update as they call out;
- :class:`IngestCollector`, read at scrape time from the runner: rows written,
  rejects by ``(source, kind, reason)``, unmapped records, publish failures,
  feed restarts, the mode, quote retention, each source's status as a state
  set, the live streams' connection figures and the chain pump's head and lag.

``/readyz`` gets an ``ingest`` check whose detail is every source's health
(``ingest.health``: status, breaker, last success, last error, quarantine
counts). A failing *source* does not make the instance unready: it keeps
serving the last good values, marked stale by age, and every instance shares
the same upstreams, so failing readiness would take all of them out of
service at once for something a restart cannot fix. Only a dead runner task
(an ingest bug) reports ``ok: false``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.health import ReadinessCheck, register_readiness
from ingest.health import STATUSES
from ingest.runner import IngestRunner
from sources.metrics import SourceMetrics, register_metrics

Bind = Callable[[IngestRunner], None]


def _ts(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value).timestamp()


class IngestCollector(Collector):
    """Reads the runner's counters and source health at scrape time (nothing is copied)."""

    def __init__(self) -> None:
        self.runner: IngestRunner | None = None

    def collect(self) -> Iterator[Metric]:
        runner = self.runner
        if runner is None:
            return
        status = runner.status()
        yield from self._writes(status)
        yield from self._sources(runner.source_health())

    def _writes(self, status: dict[str, Any]) -> Iterator[Metric]:
        rows = CounterMetricFamily(
            "cryptoql_ingest_rows", "Rows written by ingest, by kind.", labels=["kind"]
        )
        for kind, n in sorted(status.get("rows", {}).items()):
            rows.add_metric([kind], n)
        yield rows
        rejected = CounterMetricFamily(
            "cryptoql_ingest_rejected",
            "Records the ingest guard refused to write, by source, kind and reason.",
            labels=["source", "kind", "reason"],
        )
        for r in status.get("rejected", []):
            rejected.add_metric([r["source"], r["kind"], r["reason"]], r["count"])
        yield rejected
        unmapped = CounterMetricFamily(
            "cryptoql_ingest_unmapped",
            "Records not written because no stored market or alias maps them to an asset.",
            labels=["source", "kind"],
        )
        for u in status.get("unmapped", []):
            unmapped.add_metric([u["source"], u["kind"]], u["count"])
        yield unmapped
        for name, help_text, key in (
            ("cryptoql_ingest_published", "Messages ingest published.", "published"),
            (
                "cryptoql_ingest_publish_failures",
                "Publishes the broker refused (the rows were stored).",
                "publish_failures",
            ),
            ("cryptoql_ingest_signals_written", "Signal values ours computed.", "signals_written"),
            (
                "cryptoql_ingest_provider_signals_written",
                "Upstream (Token Metrics) signal and grade values stored.",
                "provider_signals_written",
            ),
        ):
            yield CounterMetricFamily(name, help_text, value=status.get(key) or 0)
        restarts = CounterMetricFamily(
            "cryptoql_ingest_feed_restarts", "Ingest feed crashes (restarted).", labels=["feed"]
        )
        for feed, n in sorted(status.get("restarts", {}).items()):
            restarts.add_metric([feed], n)
        yield restarts
        mode = GaugeMetricFamily(
            "cryptoql_ingest_mode",
            "The ingest mode in use (1 for the current one).",
            labels=["mode"],
        )
        for name in ("real", "simulated"):
            mode.add_metric([name], 1 if status.get("mode") == name else 0)
        yield mode
        retention = status.get("retention") or {}
        yield CounterMetricFamily(
            "cryptoql_ingest_retention_deleted",
            "Old quotes deleted by the retention feed.",
            value=retention.get("deleted", 0),
        )

    def _sources(self, health: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "cryptoql_source_status",
            "Upstream health as a state set: 1 for the source's current status.",
            labels=["source", "status"],
        )
        last_error = GaugeMetricFamily(
            "cryptoql_source_last_error_timestamp_seconds",
            "Unix time of the last failed upstream call.",
            labels=["source"],
        )
        for source, entry in sorted(health.items()):
            for name in STATUSES:
                state.add_metric([source, name], 1 if entry.get("status") == name else 0)
            ts = _ts(entry.get("last_error_at"))
            if ts is not None:
                last_error.add_metric([source], ts)
        yield state
        yield last_error
        yield from self._streams(health)
        yield from self._chains(health)

    def _streams(self, health: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        streams = {s: e["stream"] for s, e in sorted(health.items()) if "stream" in e}
        connected = GaugeMetricFamily(
            "cryptoql_stream_connected",
            "1 while the WebSocket stream is connected.",
            labels=["source"],
        )
        counters = {
            key: CounterMetricFamily(f"cryptoql_stream_{key}", help_text, labels=["source"])
            for key, help_text in (
                ("connects", "WebSocket stream connections opened."),
                ("disconnects", "WebSocket stream connections lost or closed."),
                ("sequence_gaps", "Sequence gaps detected in a stream."),
                ("missed_messages", "Messages a stream's sequence numbers say were missed."),
                ("parse_errors", "Stream frames skipped as unparseable."),
                ("failed_flushes", "Conflated stream batches whose write failed (retried)."),
            )
        }
        for source, s in streams.items():
            connected.add_metric([source], 1 if s.get("connected") else 0)
            for key, family in counters.items():
                family.add_metric([source], s.get(key) or 0)
        yield connected
        yield from counters.values()

    def _chains(self, health: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        chains = [e["chain"] for e in health.values() if isinstance(e.get("chain"), dict)]
        gauges = {
            key: GaugeMetricFamily(f"cryptoql_chain_{name}", help_text, labels=["chain"])
            for key, name, help_text in (
                ("head", "head_block", "Newest block the node reported (minus confirmations)."),
                ("last_stored", "stored_block", "Newest block stored."),
                ("lag_blocks", "lag_blocks", "Blocks between the node's head and storage."),
            )
        }
        counters = {
            key: CounterMetricFamily(f"cryptoql_chain_{key}", help_text, labels=["chain"])
            for key, help_text in (
                ("reorgs", "Reorganisations handled."),
                ("sync_failures", "Chain sync passes that failed (retried)."),
            )
        }
        for c in chains:
            for key, family in gauges.items():
                if c.get(key) is not None:
                    family.add_metric([c["chain"]], c[key])
            for key, cfamily in counters.items():
                cfamily.add_metric([c["chain"]], c.get(key) or 0)
        yield from gauges.values()
        yield from counters.values()


def readiness_check(runner: IngestRunner) -> ReadinessCheck:
    """Always ready while the runner lives; the detail is every source's health."""

    async def check() -> tuple[bool, dict[str, Any]]:
        failed = runner.failed
        status = runner.status()
        detail: dict[str, Any] = {
            "mode": status["mode"],
            "simulated": status["simulated"],
            "sources": runner.source_health(),
            "restarts": status["restarts"],
        }
        if failed is not None:
            detail["error"] = failed
        return failed is None, detail

    return check


@asynccontextmanager
async def observe_ingest(
    services: dict[str, Any],
) -> AsyncIterator[tuple[SourceMetrics | None, Bind]]:
    """Register the collectors for the life of the component; ``bind`` attaches the runner."""
    registry = services.get("metrics_registry")
    if not isinstance(registry, CollectorRegistry):
        registry = None
    source_metrics = register_metrics(registry) if registry is not None else None
    collector = IngestCollector()
    if registry is not None:
        registry.register(collector)

    def bind(runner: IngestRunner) -> None:
        collector.runner = runner
        register_readiness(services, "ingest", readiness_check(runner))

    try:
        yield source_metrics, bind
    finally:
        if registry is not None:
            registry.unregister(collector)
        services.get("readiness", {}).pop("ingest", None)


__all__ = ["IngestCollector", "observe_ingest", "readiness_check"]
