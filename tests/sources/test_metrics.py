"""The source collectors live on the registry the app passes in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from sources.metrics import register_metrics


def test_register_is_idempotent_per_registry_and_isolated_between_registries():
    a, b = CollectorRegistry(), CollectorRegistry()
    first = register_metrics(a)
    assert register_metrics(a) is first  # a second app component asking again gets the same
    other = register_metrics(b)
    assert other is not first
    first.requests.labels("coingecko", "ok").inc(3)
    first.set_breaker_state("coingecko", "half_open")
    assert (
        a.get_sample_value(
            "cryptoql_source_requests_total", {"source": "coingecko", "outcome": "ok"}
        )
        == 3
    )
    assert a.get_sample_value("cryptoql_source_breaker_state", {"source": "coingecko"}) == 1
    assert (
        b.get_sample_value(
            "cryptoql_source_requests_total", {"source": "coingecko", "outcome": "ok"}
        )
        is None
    )
    text = generate_latest(a).decode()
    assert "cryptoql_source_quarantined_total" in text or "cryptoql_source_quarantined" in text
