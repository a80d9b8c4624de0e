"""Wiring of the cost layer into the app: settings → :class:`cost.service.CostService`.

The lifespan component builds one service per process and puts it in
``services["cost"]``; the schema extension and the ``rateLimit`` field find it
there through the request context. Budgets live in Redis when ``redis_url`` is
set (``cost_budget_backend=auto``), so every process shares one bucket per
caller; otherwise in-process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from graphql import GraphQLError, parse
from strawberry.http import GraphQLRequestData
from strawberry.schema.base import BaseSchema
from strawberry.types import ExecutionResult

from app.lifespan import AppState
from app.settings import Settings
from cost.analysis import AnalysisConfig, rounded
from cost.budget import BudgetStore, MemoryBudgetStore, Tier
from cost.errors import too_expensive
from cost.plan import CostAnalysisError
from cost.redis_budget import RedisBudgetStore
from cost.service import CostConfig, CostService
from schema.ratelimit import bind_cost_request

log = logging.getLogger("cryptoql.cost")


def cost_config(settings: Settings) -> CostConfig:
    tiers = {
        name: Tier(name, capacity=t.capacity, restore_rate=t.restore_rate)
        for name, t in settings.cost_tiers.items()
    }
    if "anonymous" not in tiers:
        raise ValueError("cost_tiers must define the 'anonymous' tier (callers without a key)")
    fallback = settings.cost_fallback_tier if settings.cost_fallback_tier in tiers else "anonymous"
    return CostConfig(
        max_operation_cost=settings.cost_max_operation,
        analysis=AnalysisConfig(
            default_list_size=settings.cost_default_list_size,
            introspection_cost=settings.cost_introspection,
            breakdown_limit=settings.cost_breakdown_limit,
        ),
        tiers=tiers,
        fallback_tier=fallback,
        enforce=settings.cost_enforce,
    )


def budget_store(settings: Settings) -> BudgetStore:
    backend = settings.cost_budget_backend
    if backend == "auto":
        backend = "redis" if settings.redis_url else "memory"
    if backend == "redis":
        if not settings.redis_url:
            raise ValueError("cost_budget_backend=redis needs redis_url")
        return RedisBudgetStore.from_url(settings.redis_url, settings.cost_redis_prefix)
    return MemoryBudgetStore()


def build_cost_service(settings: Settings) -> CostService:
    return CostService(cost_config(settings), budget_store(settings))


@asynccontextmanager
async def cost_component(settings: Settings, _state: AppState) -> AsyncIterator[dict[str, Any]]:
    """Lifespan component: ``services["cost"]``, closed (Redis pool) at shutdown."""
    service = build_cost_service(settings)
    log.info(
        "cost limits ready",
        extra={
            "budget_store": type(service.store).__name__,
            "enforce": service.config.enforce,
            "max_operation_cost": service.config.max_operation_cost,
        },
    )
    try:
        yield {"cost": service}
    finally:
        await service.aclose()


async def refuse_costly_batch(
    schema: BaseSchema,
    request_data: GraphQLRequestData | list[GraphQLRequestData] | None,
    context: Any,
    *,
    max_tokens: int | None = None,
) -> list[ExecutionResult] | None:
    """Price an array-batched request as a whole, before any of its operations runs.

    Strawberry executes batched operations concurrently, so per-operation
    checks alone would let the first ones run before a later one is priced.
    The batch's summed estimate must stay under the caller's per-operation
    maximum; otherwise every operation gets ``COST_ESTIMATED_TOO_EXPENSIVE``
    and nothing executes. Documents that do not parse or price are skipped
    here: validation refuses them anyway. Budgets are charged per operation
    by the extension as usual.
    """
    if not isinstance(request_data, list):
        return None
    req = bind_cost_request(context)
    if req is None or not req.service.config.enforce:
        return None
    service = req.service
    gql_schema = cast("Any", schema)._schema
    total = 0.0
    for item in request_data:
        if not item.query:
            continue
        try:
            document = parse(item.query, max_tokens=max_tokens)
            est = service.estimate(
                gql_schema, document, item.variables, item.operation_name, text=item.query
            )
        except (GraphQLError, CostAnalysisError, RecursionError):
            continue
        total += est.total
    tier = service.tier(req.tier)
    maximum = rounded(service.max_cost(tier))
    if rounded(total) <= maximum:
        return None
    return [
        ExecutionResult(
            data=None,
            errors=[too_expensive(rounded(total), maximum, tier.name, batch=len(request_data))],
            extensions={"cost": {"requestedQueryCost": rounded(total), "actualQueryCost": None}},
        )
        for _ in request_data
    ]
