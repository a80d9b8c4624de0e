"""The per-source status rules of ``ingest.health`` (pure functions)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ingest.health import merge, rest_health, worst
from sources.http import SourceHealth

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FRESH = SourceHealth(
    source="binance",
    breaker_state="closed",
    last_success_at=None,
    last_error_at=None,
    last_error=None,
    requests=0,
    successes=0,
    failures=0,
    retries=0,
    rate_limited=0,
    circuit_rejections=0,
    quarantined=0,
    consecutive_failures=0,
)


def test_rest_status_follows_breaker_and_last_outcome():
    assert rest_health(FRESH)["status"] == "starting"
    ok = replace(FRESH, requests=3, successes=3, last_success_at=T0)
    assert rest_health(ok)["status"] == "ok"
    failing = replace(ok, last_error_at=T0 + timedelta(seconds=5), last_error="UPSTREAM: 503")
    assert rest_health(failing)["status"] == "degraded"
    recovered = replace(failing, last_success_at=T0 + timedelta(seconds=9))
    assert rest_health(recovered)["status"] == "ok"
    assert rest_health(recovered, cycle_error="decode")["status"] == "degraded"
    never = replace(FRESH, requests=2, last_error_at=T0, last_error="refused")
    assert rest_health(never)["status"] == "down"
    assert rest_health(replace(ok, breaker_state="open"))["status"] == "down"
    entry = rest_health(failing)
    assert entry["last_success_at"] == T0.isoformat() and entry["last_error"] == "UPSTREAM: 503"


def test_a_source_with_several_feeds_is_only_as_ok_as_all_of_them():
    assert worst("ok", "ok") == "ok"
    assert worst("ok", "starting") == "ok"
    assert worst("starting", "starting") == "starting"
    assert worst("ok", "down") == "degraded"  # one feed still brings data
    assert worst("down", "down") == "down"
    merged = merge(
        [
            {"binance": {"status": "ok", "breaker": "closed"}},
            {"binance": {"status": "down", "stream": {"connected": False}}},
            {"coinbase": {"status": "starting"}},
        ]
    )
    assert merged == {
        "binance": {"status": "degraded", "breaker": "closed", "stream": {"connected": False}},
        "coinbase": {"status": "starting"},
    }
