"""The resilient client's policy: retries, backoff, Retry-After, budgets, breaker, deadline."""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import chain, pairwise, repeat

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sources.errors import (
    CircuitOpen,
    SourceAuthError,
    SourceDecodeError,
    SourceError,
    SourceNotFound,
    SourceRateLimited,
    SourceRequestError,
    SourceTimeout,
    SourceUnavailable,
)
from sources.http import (
    BreakerPolicy,
    HttpPolicy,
    RateLimit,
    ResilientClient,
    RetryPolicy,
    parse_retry_after,
)
from sources.metrics import register_metrics
from tests.sources.support import FaultInjector, Router, make_clock

OK = {"ok": True, "price": 1.5}


def ok_router(clock):
    return Router(clock).add("/data", lambda r: httpx.Response(200, json=OK))


def make_client(transport, clock, *, policy=None, registry=None, **kw):
    return ResilientClient(
        "testsrc",
        "https://upstream.test",
        policy or HttpPolicy(rate_limit=RateLimit(6000, 60, burst=1000)),
        transport=transport,
        clock=clock,
        rng=random.Random(3),
        metrics=register_metrics(registry) if registry is not None else None,
        **kw,
    )


async def test_json_floats_arrive_as_exact_decimals():
    clock = make_clock()
    router = Router(clock).add(
        "/data", lambda r: httpx.Response(200, content=b'{"p": 69702.3087473573}')
    )
    async with make_client(router.transport(), clock) as client:
        body = await client.get_json("/data")
    assert str(body["p"]) == "69702.3087473573"


async def test_transient_5xx_is_retried_with_capped_full_jitter():
    clock = make_clock()
    router = ok_router(clock)
    faults = FaultInjector(router.transport(), schedule=iter(["5xx", "5xx"]))
    async with make_client(faults, clock) as client:
        assert await client.get_json("/data") == {"ok": True, "price": pytest.approx(1.5)}
        health = client.health()
    assert faults.injected == ["5xx", "5xx", None]
    # full jitter: attempt n waits uniform(0, min(cap, base * 2**n))
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 0.2
    assert 0 <= clock.sleeps[1] <= 0.4
    assert health.retries == 2
    assert health.failures == 2
    assert health.successes == 1
    assert health.breaker_state == "closed"


async def test_gives_up_after_max_retries_with_the_typed_error():
    clock = make_clock()
    faults = FaultInjector(ok_router(clock).transport(), schedule=repeat("5xx"))
    async with make_client(faults, clock) as client:
        with pytest.raises(SourceUnavailable) as info:
            await client.get_json("/data")
    assert info.value.status in (500, 502, 503, 504)
    assert len(faults.injected) == 3  # 1 + max_retries(2)


async def test_injected_timeouts_raise_source_timeout_after_retries():
    clock = make_clock()
    faults = FaultInjector(ok_router(clock).transport(), schedule=repeat("timeout"))
    async with make_client(faults, clock) as client:
        with pytest.raises(SourceTimeout):
            await client.get_json("/data")
    assert len(faults.injected) == 3
    assert isinstance(SourceTimeout("x", "y"), SourceUnavailable)


async def test_connection_reset_is_unavailable_and_retried():
    clock = make_clock()
    faults = FaultInjector(ok_router(clock).transport(), schedule=iter(["reset"]))
    async with make_client(faults, clock) as client:
        assert (await client.get_json("/data"))["ok"] is True
    assert faults.injected == ["reset", None]


@pytest.mark.parametrize(
    ("fault", "fragment"),
    [
        ("truncated", "malformed JSON"),
        ("malformed", "malformed JSON"),
        ("html", "HTML instead of JSON"),
        ("empty", "empty body"),
    ],
)
async def test_bad_bodies_are_decode_errors_and_not_retried(fault, fragment):
    clock = make_clock()
    router = Router(clock).add(
        "/data", lambda r: httpx.Response(200, json={"rows": list(range(50))})
    )
    faults = FaultInjector(router.transport(), schedule=iter([fault]))
    async with make_client(faults, clock) as client:
        with pytest.raises(SourceDecodeError) as info:
            await client.get_json("/data")
        health = client.health()
    assert fragment in str(info.value)
    assert len(faults.injected) == 1  # a bad body is not retried
    assert health.failures == 1  # but it counts against the breaker
    assert health.consecutive_failures == 1


async def test_html_error_page_with_5xx_status_is_unavailable():
    clock = make_clock()
    router = Router(clock).add(
        "/data",
        lambda r: httpx.Response(
            503, headers={"content-type": "text/html"}, text="<html>Service Unavailable</html>"
        ),
    )
    async with make_client(router.transport(), clock) as client:
        with pytest.raises(SourceUnavailable) as info:
            await client.get_json("/data")
    assert "Service Unavailable" in str(info.value)
    assert router.count() == 3


async def test_429_retry_after_is_honoured_and_no_call_happens_before_it():
    clock = make_clock()
    router = ok_router(clock)
    faults = FaultInjector(router.transport(), schedule=iter(["429"]), retry_after="3")
    policy = HttpPolicy(rate_limit=RateLimit(6000, 60, burst=1000), deadline=10)
    async with make_client(faults, clock, policy=policy) as client:
        t0 = clock.monotonic()
        assert (await client.get_json("/data"))["ok"] is True
        health = client.health()
    # The injector answered the 429 itself at t0; the one call that reached the upstream
    # (the retry) came no sooner than Retry-After.
    assert len(router.calls) == 1
    assert router.calls[0].at - t0 >= 3
    assert max(clock.sleeps) >= 3
    assert health.rate_limited == 1


async def test_retry_after_beyond_the_deadline_raises_at_once_and_blocks_other_callers():
    clock = make_clock()
    router = ok_router(clock)
    faults = FaultInjector(router.transport(), schedule=iter(["429"]), retry_after="120")
    async with make_client(faults, clock) as client:
        with pytest.raises(SourceRateLimited) as info:
            await client.get_json("/data")
        assert info.value.retry_after == 120
        assert clock.sleeps == []  # did not sleep past the deadline
        # Another caller 30 s later: refused locally, nothing sent upstream.
        clock.advance(30)
        with pytest.raises(SourceRateLimited) as again:
            await client.get_json("/data")
        assert again.value.retry_after == pytest.approx(90)
        assert again.value.status is None
        assert len(faults.injected) == 1
        # Once Retry-After has passed, calls flow again.
        clock.advance(91)
        assert (await client.get_json("/data"))["ok"] is True
    assert len(router.calls) == 1
    assert router.calls[0].at >= 1000 + 120


async def test_concurrent_callers_all_wait_for_retry_after():
    clock = make_clock()
    router = ok_router(clock)
    faults = FaultInjector(router.transport(), schedule=iter(["429"]), retry_after="4")
    policy = HttpPolicy(rate_limit=RateLimit(6000, 60, burst=1000), deadline=10)
    async with make_client(faults, clock, policy=policy) as client:
        await client.get_json("/data")
        blocked_until = client.limiter.blocked_until
        results = await asyncio.gather(*(client.get_json("/data") for _ in range(5)))
    assert all(r["ok"] for r in results)
    assert all(call.at >= blocked_until for call in router.calls)


def test_retry_after_parses_seconds_and_http_dates():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7
    assert parse_retry_after(" 2.5 ", now) == 2.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after("yesterday", now) is None
    assert parse_retry_after(None, now) is None
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0


async def test_request_budget_spaces_calls_to_the_published_limit():
    clock = make_clock()
    router = ok_router(clock)
    policy = HttpPolicy(rate_limit=RateLimit(30, 60, burst=2))  # 30/min: 2 s a call
    async with make_client(router.transport(), clock, policy=policy) as client:
        for _ in range(6):
            await client.get_json("/data")
    times = [c.at for c in router.calls]
    assert times[1] - times[0] == 0  # burst of 2
    gaps = [b - a for a, b in pairwise(times[1:])]
    assert all(g >= 2 - 1e-9 for g in gaps)
    # 6 calls at 30/min with a burst of 2 need at least 8 s
    assert times[-1] - times[0] >= 8 - 1e-9


async def test_weighted_calls_spend_more_of_the_budget():
    clock = make_clock()
    router = ok_router(clock)
    policy = HttpPolicy(rate_limit=RateLimit(60, 60, burst=10))
    async with make_client(router.transport(), clock, policy=policy) as client:
        await client.get_json("/data", cost=10)
        await client.get_json("/data", cost=10)
    assert router.calls[1].at - router.calls[0].at >= 10 - 1e-9


async def test_client_errors_are_typed_and_never_retried():
    clock = make_clock()
    statuses = {"/auth": 401, "/forbidden": 403, "/missing": 404, "/bad": 400}
    router = Router(clock)
    for path, status in statuses.items():
        router.add(path, lambda r, s=status: httpx.Response(s, json={"message": "no"}))
    async with make_client(router.transport(), clock) as client:
        with pytest.raises(SourceAuthError):
            await client.get_json("/auth")
        with pytest.raises(SourceAuthError):
            await client.get_json("/forbidden")
        with pytest.raises(SourceNotFound):
            await client.get_json("/missing")
        with pytest.raises(SourceRequestError):
            await client.get_json("/bad")
        health = client.health()
    assert router.count() == 4
    assert health.breaker_state == "closed"
    assert health.consecutive_failures == 0


async def test_post_is_not_retried_unless_declared_idempotent():
    clock = make_clock()
    router = ok_router(clock)
    faults = FaultInjector(router.transport(), schedule=iter(["5xx", "5xx"]))
    async with make_client(faults, clock) as client:
        with pytest.raises(SourceUnavailable):
            await client.request_json("POST", "/data", json_body={"x": 1})
        assert len(faults.injected) == 1
        body = await client.request_json("POST", "/data", json_body={"x": 1}, idempotent=True)
    assert body["ok"] is True
    assert faults.injected == ["5xx", "5xx", None]


async def test_outage_opens_the_breaker_and_bounds_upstream_calls():
    clock = make_clock()
    router = Router(clock).add("/data", lambda r: httpx.Response(503, text="down"))
    registry = CollectorRegistry()
    async with make_client(router.transport(), clock, registry=registry) as client:
        outcomes: list[type[SourceError]] = []
        for _ in range(50):
            try:
                await client.get_json("/data")
            except SourceError as exc:
                outcomes.append(type(exc))
            clock.advance(1)
        health = client.health()
    # 5 consecutive failures open the breaker; the 50 calls reach the upstream only a few
    # times: the first failures, then one half-open probe per 30 s cool-down.
    assert len(outcomes) == 50
    assert health.breaker_state == "open"
    assert router.count() <= 5 + 2 + 2
    assert outcomes.count(CircuitOpen) >= 40
    assert registry.get_sample_value("cryptoql_source_breaker_state", {"source": "testsrc"}) == 2
    assert registry.get_sample_value(
        "cryptoql_source_requests_total", {"source": "testsrc", "outcome": "circuit_open"}
    ) == outcomes.count(CircuitOpen)


async def test_breaker_half_opens_after_cooldown_and_closes_on_a_good_probe():
    clock = make_clock()
    healthy = {"up": False}
    router = Router(clock).add(
        "/data",
        lambda r: httpx.Response(200, json=OK) if healthy["up"] else httpx.Response(500),
    )
    policy = HttpPolicy(
        rate_limit=RateLimit(6000, 60, burst=1000),
        retry=RetryPolicy(max_retries=0),
        breaker=BreakerPolicy(consecutive_failures=3, reset_timeout=30),
    )
    async with make_client(router.transport(), clock, policy=policy) as client:
        for _ in range(3):
            with pytest.raises(SourceUnavailable):
                await client.get_json("/data")
        assert client.breaker.state == "open"
        with pytest.raises(CircuitOpen) as info:
            await client.get_json("/data")
        assert info.value.retry_after == pytest.approx(30)
        assert router.count() == 3
        # Cool-down passes; the probe fails: open again for another 30 s.
        clock.advance(30)
        with pytest.raises(SourceUnavailable):
            await client.get_json("/data")
        assert client.breaker.state == "open"
        assert router.count() == 4
        # Next probe succeeds: closed, and traffic flows.
        clock.advance(30)
        healthy["up"] = True
        assert (await client.get_json("/data"))["ok"] is True
        assert client.breaker.state == "closed"
        assert (await client.get_json("/data"))["ok"] is True
    assert client.breaker.times_opened == 2


async def test_half_open_admits_a_single_probe_at_a_time():
    clock = make_clock()
    gate = asyncio.Event()

    async def slow_ok(request):
        await gate.wait()
        return httpx.Response(200, json=OK)

    class GatedTransport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            return await slow_ok(request)

    policy = HttpPolicy(
        rate_limit=RateLimit(6000, 60, burst=1000),
        retry=RetryPolicy(max_retries=0),
        breaker=BreakerPolicy(consecutive_failures=1, reset_timeout=10),
    )
    async with make_client(GatedTransport(), clock, policy=policy) as client:
        client.breaker.record_failure()
        assert client.breaker.state == "open"
        clock.advance(10)
        probe = asyncio.create_task(client.get_json("/data"))
        await asyncio.sleep(0)
        assert client.breaker.state == "half_open"
        with pytest.raises(CircuitOpen):
            await client.get_json("/data")
        gate.set()
        assert (await probe)["ok"] is True
        assert client.breaker.state == "closed"


async def test_error_rate_over_the_window_opens_the_breaker():
    clock = make_clock()
    router = ok_router(clock)
    # Alternating failures never reach 5 in a row, but 50 % over 20 calls opens it
    # (checked when a failure lands on a full window: the 21st call).
    faults = FaultInjector(router.transport(), schedule=iter(["5xx", None] * 20))
    policy = HttpPolicy(
        rate_limit=RateLimit(6000, 60, burst=1000), retry=RetryPolicy(max_retries=0)
    )
    async with make_client(faults, clock, policy=policy) as client:
        for i in range(21):
            with contextlib.suppress(SourceUnavailable):
                await client.get_json("/data")
            if i < 20:
                assert client.breaker.state == "closed"
        assert client.breaker.state == "open"


async def test_fifty_percent_5xx_no_retry_storm_and_every_answer_is_good_or_typed():
    clock = make_clock()
    router = ok_router(clock)
    faults = FaultInjector(router.transport(), rate=0.5, faults=["5xx"], seed=11)
    policy = HttpPolicy(
        rate_limit=RateLimit(6000, 60, burst=1000),
        # keep the breaker out of it: this measures retries alone
        breaker=BreakerPolicy(consecutive_failures=10_000, failure_rate=1.01),
    )
    registry = CollectorRegistry()
    calls = 200
    good = failed = 0
    async with make_client(faults, clock, policy=policy, registry=registry) as client:
        for _ in range(calls):
            try:
                body = await client.get_json("/data")
                assert body["ok"] is True
                good += 1
            except SourceUnavailable:
                failed += 1
            clock.advance(0.5)
        health = client.health()
    attempts = len(faults.injected)
    assert good + failed == calls
    # Retries are capped by the budget: initial 3 tokens + 10 % of requests.
    assert health.retries <= 3 + 0.1 * calls
    assert attempts == calls + health.retries
    assert attempts <= 1.15 * calls + 3
    assert (
        registry.get_sample_value("cryptoql_source_retries_total", {"source": "testsrc"})
        == health.retries
    )
    assert (
        registry.get_sample_value(
            "cryptoql_source_retry_budget_exhausted_total", {"source": "testsrc"}
        )
        > 0
    )


async def test_deadline_bounds_the_whole_call_including_retries():
    clock = make_clock()
    router = ok_router(clock)
    faults = FaultInjector(router.transport(), schedule=repeat("429"), retry_after="2")
    policy = HttpPolicy(
        rate_limit=RateLimit(6000, 60, burst=1000),
        deadline=5,
        retry=RetryPolicy(max_retries=10, budget_initial=10),
    )
    async with make_client(faults, clock, policy=policy) as client:
        t0 = clock.monotonic()
        with pytest.raises(SourceRateLimited):
            await client.get_json("/data")
    assert clock.monotonic() - t0 <= 5
    assert len(faults.injected) <= 3


async def test_health_records_last_success_and_last_error():
    clock = make_clock()
    router = ok_router(clock)
    faults = FaultInjector(router.transport(), schedule=chain([None], repeat("5xx")))
    async with make_client(faults, clock) as client:
        await client.get_json("/data")
        ok_at = clock.now()
        clock.advance(60)
        with pytest.raises(SourceUnavailable):
            await client.get_json("/data")
        health = client.health()
    assert health.last_success_at == ok_at
    assert health.last_error_at is not None
    assert health.last_error_at > ok_at
    assert health.last_error.startswith("UPSTREAM_UNAVAILABLE")
    assert health.requests == 4
    assert not health.healthy or health.breaker_state == "closed"


async def test_shared_client_is_not_closed_by_the_adapter_client():
    clock = make_clock()
    shared = httpx.AsyncClient(transport=ok_router(clock).transport())
    client = ResilientClient(
        "testsrc",
        "https://upstream.test",
        HttpPolicy(rate_limit=RateLimit(60)),
        client=shared,
        clock=clock,
    )
    await client.get_json("/data")
    await client.aclose()
    assert not shared.is_closed
    await shared.aclose()


# --------------------------------------------------------------------- real sockets


async def _serve(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def test_real_socket_read_timeout_becomes_source_timeout():
    async def silent(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(5)  # never answers within the read timeout
        writer.close()

    server, url = await _serve(silent)
    policy = HttpPolicy(
        rate_limit=RateLimit(6000, 60, burst=1000),
        read_timeout=0.2,
        deadline=1.0,
        retry=RetryPolicy(max_retries=0),
    )
    async with server, ResilientClient("sock", url, policy) as client:
        with pytest.raises(SourceTimeout):
            await client.get_json("/x")
        server.close()


async def test_real_socket_truncated_body_is_unavailable_not_data():
    async def truncating(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
            b'[{"price": 1.5}, {"pri'
        )
        await writer.drain()
        writer.close()

    server, url = await _serve(truncating)
    policy = HttpPolicy(
        rate_limit=RateLimit(6000, 60, burst=1000), retry=RetryPolicy(max_retries=1)
    )
    async with server, ResilientClient("sock", url, policy) as client:
        with pytest.raises(SourceUnavailable):
            await client.get_json("/x")
        assert client.health().requests == 2  # retried once: a cut connection is transient
        server.close()
