"""The process-wide cost service: configuration, shape caches and the budget store.

One :class:`CostService` lives in the app's lifespan state (``services["cost"]``).
The schema extension uses it for every operation; other layers use its small
public API, notably subscriptions, which charge per delivered event::

    decision = await cost.charge(principal.budget_key, principal.tier, event_cost)
    if not decision.allowed:
        ...  # skip (conflate) the event; decision.retry_after says for how long

``event_cost`` is the subscription's static estimate
(:meth:`CostService.estimate` with the subscription document and variables),
which is what one event's payload can cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from graphql import DocumentNode, GraphQLSchema, parse

from cost.analysis import AnalysisConfig, Estimate, estimate
from cost.budget import BucketStatus, BudgetStore, Decision, MemoryBudgetStore, Tier
from cost.model import CostModel, model_for
from cost.plan import Shape, ShapeCache

DEFAULT_TIERS: dict[str, Tier] = {
    "anonymous": Tier("anonymous", capacity=1_000, restore_rate=20),
    "free": Tier("free", capacity=5_000, restore_rate=100),
    "pro": Tier("pro", capacity=25_000, restore_rate=500),
    "enterprise": Tier("enterprise", capacity=100_000, restore_rate=2_000),
}


@dataclass(frozen=True, slots=True)
class CostConfig:
    #: the most one operation may cost, whatever the caller's budget
    max_operation_cost: float = 25_000
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    tiers: Mapping[str, Tier] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    #: the tier used for a tier name that is not configured
    fallback_tier: str = "anonymous"
    #: False = "measure" mode: price and report, never reject or throttle
    enforce: bool = True
    shape_cache_size: int = 256

    def __post_init__(self) -> None:
        if self.fallback_tier not in self.tiers:
            raise ValueError(f"fallback tier {self.fallback_tier!r} is not in the tier table")


class CostService:
    def __init__(self, config: CostConfig | None = None, store: BudgetStore | None = None) -> None:
        self.config = config if config is not None else CostConfig()
        self.store: BudgetStore = store if store is not None else MemoryBudgetStore()
        self._shapes: WeakKeyDictionary[GraphQLSchema, ShapeCache] = WeakKeyDictionary()

    # -- configuration -------------------------------------------------------

    def tier(self, name: str) -> Tier:
        tiers = self.config.tiers
        return tiers.get(name) or tiers[self.config.fallback_tier]

    def max_cost(self, tier: Tier) -> float:
        """Per-operation maximum for a tier: never more than the tier's bucket holds."""
        return min(self.config.max_operation_cost, tier.capacity)

    # -- analysis ------------------------------------------------------------

    def model(self, schema: GraphQLSchema) -> CostModel:
        return model_for(schema)

    def shape(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        query: str | None = None,
        operation_name: str | None = None,
    ) -> Shape:
        cache = self._shapes.get(schema)
        if cache is None:
            cache = self._shapes[schema] = ShapeCache(self.config.shape_cache_size)
        return cache.get(query, document, operation_name)

    def estimate(
        self,
        schema: GraphQLSchema,
        query: str | DocumentNode,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        breakdown: bool = False,
        now: datetime | None = None,
        root_fields: frozenset[str] = frozenset(),
        text: str | None = None,
    ) -> Estimate:
        """Price a document (text, or parsed with its ``text`` as cache key); no budget involved.

        Raises :class:`cost.plan.CostAnalysisError` for a document that names an
        unknown operation or fragment (and ``GraphQLError`` for bad syntax).
        """
        if isinstance(query, str):
            text = query
            document = parse(query)
        else:
            document = query
        shape = self.shape(schema, document, text, operation_name)
        return estimate(
            model_for(schema),
            shape,
            variables,
            self.config.analysis,
            breakdown=breakdown,
            now=now,
            root_fields=root_fields,
        )

    # -- budgets -------------------------------------------------------------

    async def reserve(self, key: str, tier_name: str, cost: float) -> Decision:
        """Take ``cost`` points from the caller's bucket, all or nothing."""
        return await self.store.take(key, self.tier(tier_name), cost)

    async def refund(self, key: str, tier_name: str, amount: float) -> BucketStatus:
        return await self.store.give(key, self.tier(tier_name), amount)

    async def status(self, key: str, tier_name: str) -> BucketStatus:
        return await self.store.peek(key, self.tier(tier_name))

    async def charge(self, key: str, tier_name: str, cost: float) -> Decision:
        """Charge a delivered subscription event (or any cost outside an operation).

        Same as :meth:`reserve`: nothing is taken unless all of ``cost`` fits.
        In measure mode the event is always allowed (and charged when it fits).
        """
        decision = await self.reserve(key, tier_name, cost)
        if decision.allowed or self.config.enforce:
            return decision
        return Decision(True, decision.status, 0.0)

    async def aclose(self) -> None:
        await self.store.aclose()
