"""The strawberry extension that prices, limits and charges every operation.

Lifecycle of one operation (queries, and subscriptions over WebSocket, which
strawberry runs through the same hooks):

1. ``on_execute``, before execution: the document's shape (cached) is priced
   with the variables. Above the caller's per-operation maximum →
   ``COST_ESTIMATED_TOO_EXPENSIVE``. A dry run (header, or
   ``rateLimit(dryRun: true)``) is answered here without running the rest of
   the operation and without charging. Otherwise the requested cost is taken
   from the caller's budget; if it does not fit → ``THROTTLED`` with HTTP 429
   and ``Retry-After``. Errors raised here reach the client before any
   resolver runs (strawberry turns a hook exception into ``data: null``).
2. Execution.
3. ``on_execute``, after execution: the actual cost is computed from the
   returned data and the difference refunded. Subscriptions keep what they paid
   at subscribe time; their events are charged by the subscription layer
   (:meth:`cost.service.CostService.charge`).
4. ``get_results``: ``extensions.cost`` for the response; the same figures go
   into ``X-RateLimit-*`` headers through the request binding.

The extension knows nothing about HTTP or our context type: a *binder*
(``schema.ratelimit.bind_cost_request``) turns the context into a
:class:`CostRequest`. The current operation's figures are in a context
variable (:func:`current_operation`) so the ``rateLimit`` field can report
them.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult, OperationType
from strawberry.extensions import SchemaExtension

from cost.actual import actual_cost
from cost.analysis import Estimate, estimate, root_type_name, rounded
from cost.budget import BucketStatus, Tier
from cost.dryrun import restrict_to_root_fields
from cost.errors import retry_after_seconds, throttled, too_expensive
from cost.plan import CostAnalysisError
from cost.service import CostService

log = logging.getLogger("cryptoql.cost")


@dataclass(slots=True)
class CostRequest:
    """What the extension needs from one request; built by a binder per operation."""

    service: CostService
    budget_key: str
    tier: str
    #: the whole operation is a dry run (e.g. header ``X-Cost-Dry-Run: 1``)
    dry_run: bool = False
    #: add the per-field breakdown (e.g. header ``X-Cost-Include-Fields: 1``)
    include_fields: bool = False
    set_headers: Callable[[Mapping[str, str]], None] | None = None
    set_status: Callable[[int], None] | None = None
    #: False when the context carries no caller (schema used outside the app):
    #: the per-operation maximum still applies, no budget is kept
    use_budget: bool = True


Binder = Callable[[Any], CostRequest | None]


@dataclass(slots=True)
class OperationCost:
    """The cost figures of the operation being executed."""

    requested: int
    maximum: int
    tier: Tier
    dry_run: bool = False
    actual: int | None = None
    #: points this operation took from the budget (after any refund)
    charged: int = 0
    status: BucketStatus | None = None
    estimate: Estimate | None = None

    def as_extension(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requestedQueryCost": self.requested,
            "actualQueryCost": self.actual,
            "maximumQueryCost": self.maximum,
        }
        if self.dry_run:
            out["dryRun"] = True
        if self.status is not None:
            out["throttleStatus"] = self.status.as_dict()
        est = self.estimate
        if est is not None and est.fields is not None:
            out["fields"] = [f.as_dict() for f in est.fields]
            if est.fields_truncated:
                out["fieldsTruncated"] = True
        return out


_current: ContextVar[OperationCost | None] = ContextVar("cryptoql_operation_cost", default=None)


def current_operation() -> OperationCost | None:
    """The cost of the operation being executed (for the ``rateLimit`` field)."""
    return _current.get()


def rate_limit_headers(status: BucketStatus, charged: int) -> dict[str, str]:
    """GitHub-style headers: limit, remaining, reset (epoch seconds when full), cost."""
    reset = math.ceil(time.time() + status.seconds_until_full)
    return {
        "X-RateLimit-Limit": str(int(status.maximum_available)),
        "X-RateLimit-Remaining": str(max(0, math.floor(status.currently_available))),
        "X-RateLimit-Reset": str(reset),
        "X-RateLimit-Cost": str(charged),
    }


class CostExtension(SchemaExtension):
    """Register with ``lambda: CostExtension(bind=...)`` (one instance per operation)."""

    def __init__(
        self,
        *,
        bind: Binder,
        dry_run_field: str = "rateLimit",
        default_service: CostService | None = None,
    ) -> None:
        self.bind = bind
        self.dry_run_field = dry_run_field
        self.default_service = default_service
        self.request: CostRequest | None = None
        self.operation: OperationCost | None = None
        self.status: BucketStatus | None = None

    # -- helpers -------------------------------------------------------------

    def _request(self) -> CostRequest:
        if self.request is None:
            bound = self.bind(self.execution_context.context)
            if bound is None:
                service = self.default_service or _fallback_service()
                bound = CostRequest(
                    service=service,
                    budget_key="unbound",
                    tier=service.config.fallback_tier,
                    use_budget=False,
                )
            self.request = bound
        return self.request

    def _publish(self, status: BucketStatus | None, charged: int) -> None:
        self.status = status
        req = self.request
        if req is not None and req.set_headers is not None and status is not None:
            req.set_headers(rate_limit_headers(status, charged))

    # -- hooks ---------------------------------------------------------------

    async def on_parse(self) -> AsyncIterator[None]:
        yield
        await self._report_unpriced()

    async def on_validate(self) -> AsyncIterator[None]:
        yield
        await self._report_unpriced()

    async def _report_unpriced(self) -> None:
        """Parse or validation failed: nothing to price, but the response reports the budget."""
        if self.execution_context.pre_execution_errors and self.status is None:
            req = self._request()
            if req.use_budget:
                self._publish(await req.service.status(req.budget_key, req.tier), 0)

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        req = self._request()
        service = req.service
        document = ec.graphql_document
        if document is None:
            yield
            return
        schema = ec.schema._schema
        try:
            shape = service.shape(schema, document, ec.query, ec.operation_name)
        except CostAnalysisError:
            yield  # execution reports the same problem without running resolvers
            return
        tier = service.tier(req.tier)
        maximum = rounded(
            service.max_cost(tier) if req.use_budget else service.config.max_operation_cost
        )
        try:
            est = estimate(
                service.model(schema),
                shape,
                ec.variables,
                service.config.analysis,
                breakdown=req.include_fields,
                root_fields=frozenset({self.dry_run_field}),
            )
        except RecursionError:
            await self._refresh(req)
            raise too_expensive(None, maximum, tier.name) from None
        field_dry_run = any(
            args.get("dryRun") is True for args in est.root_arguments.get(self.dry_run_field, ())
        )
        # A subscription cannot be dry-run: strawberry starts its stream regardless.
        dry_run = (req.dry_run or field_dry_run) and (
            shape.operation_type is not OperationType.SUBSCRIPTION
        )
        op = OperationCost(
            requested=est.cost, maximum=maximum, tier=tier, dry_run=dry_run, estimate=est
        )
        self.operation = op
        token = _current.set(op)
        try:
            if op.dry_run:
                op.status = await self._refresh(req)
                if req.dry_run or shape.operation_type is OperationType.MUTATION:
                    ec.result = ExecutionResult(data=None)
                else:
                    ec.graphql_document = restrict_to_root_fields(
                        document, shape.operation, frozenset({self.dry_run_field})
                    )
                yield
                return
            enforce = service.config.enforce
            if enforce and op.requested > maximum:
                op.status = await self._refresh(req)
                raise too_expensive(op.requested, maximum, tier.name)
            reserved = 0
            if req.use_budget:
                decision = await service.reserve(req.budget_key, req.tier, op.requested)
                op.status = decision.status
                if not decision.allowed and enforce:
                    self._publish(decision.status, 0)
                    if req.set_headers is not None:
                        wait = retry_after_seconds(decision.retry_after)
                        req.set_headers({"Retry-After": str(wait)})
                    if req.set_status is not None:
                        req.set_status(429)
                    raise throttled(op.requested, decision.status, decision.retry_after)
                reserved = op.requested if decision.allowed else 0
            op.charged = reserved
            self._publish(op.status, op.charged)
            yield
            if shape.operation_type is OperationType.SUBSCRIPTION:
                return
            await self._settle(req, op, est, reserved)
        finally:
            _current.reset(token)

    async def _refresh(self, req: CostRequest) -> BucketStatus | None:
        """Read (and publish) the caller's budget without changing it."""
        if not req.use_budget:
            return None
        status = await req.service.status(req.budget_key, req.tier)
        self._publish(status, 0)
        return status

    async def _settle(
        self, req: CostRequest, op: OperationCost, est: Estimate, reserved: int
    ) -> None:
        ec = self.execution_context
        result = ec.result
        data = getattr(result, "data", None)
        model = req.service.model(ec.schema._schema)
        actual = rounded(
            actual_cost(
                model,
                est.shape,
                est.variables,
                data if isinstance(data, dict) else None,
                root_type_name(model, est.shape),
                req.service.config.analysis,
            )
        )
        op.actual = actual
        if actual > op.requested:
            log.warning(
                "actual cost above estimate: a list returned more than its declared size",
                extra={"requested": op.requested, "actual": actual},
            )
        refund = reserved - actual
        if refund > 0 and req.use_budget:
            op.status = await req.service.refund(req.budget_key, req.tier, refund)
            op.charged = reserved - refund
        self._publish(op.status, op.charged)

    def get_results(self) -> dict[str, Any]:
        if self.operation is not None:
            return {"cost": self.operation.as_extension()}
        if self.status is not None:
            return {
                "cost": {
                    "requestedQueryCost": None,
                    "actualQueryCost": None,
                    "throttleStatus": self.status.as_dict(),
                }
            }
        return {}


_FALLBACK: CostService | None = None


def _fallback_service() -> CostService:
    """Defaults for a schema used without the app (tests, scripts): limits, no shared budget."""
    global _FALLBACK
    if _FALLBACK is None:
        _FALLBACK = CostService()
    return _FALLBACK


__all__ = [
    "Binder",
    "CostExtension",
    "CostRequest",
    "OperationCost",
    "current_operation",
    "rate_limit_headers",
]
