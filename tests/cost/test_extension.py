"""The cost extension on the toy schema: limits, budgets, refunds, dry runs, subscriptions.

``CALLS`` records every field resolution (and every subscription event): a
refused operation must leave it empty.
"""

from __future__ import annotations

import math

import pytest

from cost.budget import MemoryBudgetStore, Tier
from cost.errors import COST_ESTIMATED_TOO_EXPENSIVE, THROTTLED
from cost.extension import CostRequest
from cost.service import CostConfig, CostService
from tests.cost.toy import CALLS, toy_schema

SCHEMA = toy_schema()
CHEAP = '{ coin(id: "a") { price } }'  # 3
CONNECTION = "{ coins(first: 5) { edges { node { price } } } }"  # 21 requested, 13 actual
EXPENSIVE = "{ coins(first: 100) { nodes { price } } }"  # 301


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


def make_service(*, capacity=100, rate=1.0, max_cost=200, enforce=True, clock=None):
    tier = Tier("t", capacity=capacity, restore_rate=rate)
    config = CostConfig(
        max_operation_cost=max_cost,
        tiers={"t": tier, "anonymous": tier},
        fallback_tier="t",
        enforce=enforce,
    )
    return CostService(config, MemoryBudgetStore(clock=clock or Clock()))


class Sink:
    def __init__(self):
        self.headers: dict[str, str] = {}
        self.status: int | None = None

    def set_headers(self, values):
        self.headers.update(values)

    def set_status(self, code):
        self.status = code


def context(service, sink=None, **kw):
    sink = sink or Sink()
    req = CostRequest(
        service=service,
        budget_key="caller",
        tier="t",
        set_headers=sink.set_headers,
        set_status=sink.set_status,
        **kw,
    )
    return {"cost": req}


async def test_too_expensive_is_refused_before_any_resolver_and_charges_nothing():
    service = make_service()
    result = await SCHEMA.execute(EXPENSIVE, context_value=context(service))
    assert result.data is None
    [error] = result.errors
    assert error.extensions == {
        "code": COST_ESTIMATED_TOO_EXPENSIVE,
        "cost": {"estimated": 301, "max": 100},  # min(max_operation_cost, tier capacity)
    }
    assert CALLS == []
    assert (await service.status("caller", "t")).currently_available == 100
    assert result.extensions["cost"]["requestedQueryCost"] == 301


async def test_requested_cost_is_reserved_and_the_difference_refunded():
    service = make_service()
    sink = Sink()
    result = await SCHEMA.execute(CONNECTION, context_value=context(service, sink))
    assert result.errors is None
    cost = result.extensions["cost"]
    assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (21, 13)
    assert cost["throttleStatus"] == {
        "maximumAvailable": 100,
        "currentlyAvailable": 87,  # 100 - 21 + (21 - 13)
        "restoreRate": 1,
    }
    assert sink.headers["X-RateLimit-Limit"] == "100"
    assert sink.headers["X-RateLimit-Remaining"] == "87"
    assert sink.headers["X-RateLimit-Cost"] == "13"
    assert sink.status is None


async def test_over_budget_is_throttled_with_the_wait_until_the_cost_fits():
    clock = Clock()
    service = make_service(capacity=50, rate=2.0, clock=clock)
    for _ in range(2):  # 2 × 21 reserved, 2 × 13 kept: 24 left
        assert (await SCHEMA.execute(CONNECTION, context_value=context(service))).errors is None
    await SCHEMA.execute(CONNECTION, context_value=context(service))  # 24 - 21 + 8 = 11 left
    CALLS.clear()
    sink = Sink()
    result = await SCHEMA.execute(CONNECTION, context_value=context(service, sink))
    [error] = result.errors
    assert error.extensions["code"] == THROTTLED
    wait = (21 - 11) / 2.0
    assert error.extensions["cost"]["retryAfterSeconds"] == math.ceil(wait)
    assert error.extensions["cost"]["currentlyAvailable"] == 11
    assert sink.status == 429
    assert sink.headers["Retry-After"] == str(math.ceil(wait))
    assert CALLS == []
    assert result.extensions["cost"]["actualQueryCost"] is None
    clock.now += wait  # exactly the announced wait is enough
    assert (await SCHEMA.execute(CONNECTION, context_value=context(service))).errors is None


async def test_dry_run_runs_nothing_and_charges_nothing():
    service = make_service()
    result = await SCHEMA.execute(
        CONNECTION, context_value=context(service, dry_run=True, include_fields=True)
    )
    assert result.data is None and result.errors is None
    cost = result.extensions["cost"]
    assert cost["dryRun"] is True
    assert cost["requestedQueryCost"] == 21
    assert cost["actualQueryCost"] is None
    assert cost["fields"][0] == {
        "path": ["coins"],
        "definedCost": 1,
        "size": 1,
        "requestedTotalCost": 21,
        "requestedChildrenCost": 20,
    }
    assert CALLS == []
    assert (await service.status("caller", "t")).currently_available == 100


async def test_dry_run_reports_even_a_too_expensive_operation():
    service = make_service()
    result = await SCHEMA.execute(EXPENSIVE, context_value=context(service, dry_run=True))
    assert result.errors is None
    assert result.extensions["cost"]["requestedQueryCost"] == 301
    assert result.extensions["cost"]["maximumQueryCost"] == 100
    assert CALLS == []


async def test_measure_mode_prices_but_never_refuses():
    service = make_service(enforce=False, capacity=10)
    result = await SCHEMA.execute(EXPENSIVE, context_value=context(service))
    assert result.errors is None
    assert result.extensions["cost"]["requestedQueryCost"] == 301
    assert result.extensions["cost"]["actualQueryCost"] == 10
    assert CALLS


async def test_without_a_caller_only_the_operation_maximum_applies():
    # A schema used outside the app (no binding): no budget, default maximum.
    assert (await SCHEMA.execute(EXPENSIVE, context_value={})).errors is None
    huge = "{ coins(first: 100000) { nodes { price } } }"
    result = await SCHEMA.execute(huge, context_value={})
    assert result.errors[0].extensions["code"] == COST_ESTIMATED_TOO_EXPENSIVE


async def test_invalid_documents_report_the_budget_without_pricing():
    service = make_service()
    result = await SCHEMA.execute("{ nope }", context_value=context(service))
    assert result.extensions["cost"]["requestedQueryCost"] is None
    assert result.extensions["cost"]["throttleStatus"]["currentlyAvailable"] == 100


async def test_subscription_too_expensive_is_refused_before_the_stream_starts():
    service = make_service(max_cost=2)
    result = await SCHEMA.subscribe(
        "subscription { ticks(n: 3) { price } }", context_value=context(service)
    )
    events = [r async for r in result] if hasattr(result, "__aiter__") else [result]
    assert len(events) == 1
    assert events[0].errors[0].extensions["code"] == COST_ESTIMATED_TOO_EXPENSIVE
    assert CALLS == []


async def test_subscription_is_charged_at_subscribe_time():
    service = make_service()
    stream = await SCHEMA.subscribe(
        "subscription { ticks(n: 2) { price } }", context_value=context(service)
    )
    events = [r async for r in stream]
    assert [e.errors for e in events] == [None, None]
    assert events[0].extensions["cost"]["requestedQueryCost"] == 3
    # charged once, not refunded; events are charged by the subscription layer
    assert (await service.status("caller", "t")).currently_available == 97


async def test_charge_api_for_subscription_events():
    clock = Clock()
    service = make_service(capacity=10, rate=1.0, clock=clock)
    assert (await service.charge("caller", "t", 6)).allowed
    refused = await service.charge("caller", "t", 6)
    assert not refused.allowed and refused.retry_after == pytest.approx(2.0)
    measuring = make_service(capacity=10, enforce=False, clock=clock)
    await measuring.charge("caller", "t", 10)
    assert (await measuring.charge("caller", "t", 6)).allowed  # measure mode never refuses
