"""Per-source health, as one JSON-able shape for ``/readyz``, ``/metrics`` and logs.

Every feed that talks to an upstream reports ``{source: {...}}`` from its
``health()``; the runner merges them (a source with a REST feed and a live
stream, like Binance, gets both under one name). Each entry carries a
``status``:

- ``starting``: nothing was asked of the source yet;
- ``ok``: the last cycle (or the live connection) works;
- ``degraded``: the last cycle (or the last request) failed but the source
  answered before (the API serves its last good values, marked stale once
  they age past the threshold);
- ``down``: the circuit breaker is open, the stream is disconnected, or the
  source never answered.

The REST figures come from the resilient client (``sources.http.SourceHealth``):
breaker state, last success, last error, request/failure/retry counters and
the records quarantined by validation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sources.http import SourceHealth

STATUSES = ("starting", "ok", "degraded", "down")


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def rest_health(h: SourceHealth, cycle_error: str | None = None) -> dict[str, Any]:
    """One REST source's health; ``cycle_error`` is the last failed ingest cycle, if any."""
    failing = cycle_error is not None or (
        h.last_error_at is not None
        and (h.last_success_at is None or h.last_error_at > h.last_success_at)
    )
    if h.breaker_state == "open":
        status = "down"
    elif h.requests == 0 and h.circuit_rejections == 0 and not failing:
        status = "starting"
    elif failing:
        status = "degraded" if h.last_success_at is not None else "down"
    else:
        status = "ok"
    return {
        "status": status,
        "breaker": h.breaker_state,
        "last_success_at": _iso(h.last_success_at),
        "last_error_at": _iso(h.last_error_at),
        "last_error": h.last_error,
        "cycle_error": cycle_error,
        "requests": h.requests,
        "failures": h.failures,
        "retries": h.retries,
        "rate_limited": h.rate_limited,
        "circuit_rejections": h.circuit_rejections,
        "quarantined": h.quarantined,
    }


def worst(*statuses: str) -> str:
    """The status of a source with several feeds: ``ok`` only when every feed is."""
    found = [s for s in statuses if s in STATUSES]
    if not found:
        return "starting"
    if all(s == "starting" for s in found):
        return "starting"
    rank = {"ok": 0, "starting": 0, "degraded": 1, "down": 2}
    top = max(found, key=rank.__getitem__)
    if top == "down" and any(s in ("ok", "degraded") for s in found):
        return "degraded"  # one of its feeds still brings data
    return top


def merge(reports: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Merge the feeds' ``{source: health}`` reports; a second report nests under its kind."""
    out: dict[str, dict[str, Any]] = {}
    for report in reports:
        for source, entry in report.items():
            if source not in out:
                out[source] = dict(entry)
                continue
            current = out[source]
            for key, value in entry.items():
                if key == "status":
                    continue
                current[key] = value
            current["status"] = worst(current.get("status", ""), entry.get("status", ""))
    return out


__all__ = ["STATUSES", "merge", "rest_health", "worst"]
