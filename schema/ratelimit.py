"""Cost and budget, visible from GraphQL: ``rateLimit`` and ``costModel``.

``rateLimit`` is GitHub's field: the price of the operation it is part of and
the caller's budget after paying for it. ``rateLimit(dryRun: true)`` prices the
operation without running the rest of it and without charging. ``costModel``
publishes the declared weights (the ``@cost``/``@listSize`` directives are in
the SDL, but strawberry's introspection does not expose applied directives, so
agents that only speak GraphQL read them here).

Both fields and everything below them are free (``@cost(weight: 0)``).

:func:`bind_cost_request` connects the cost extension to our request context:
caller, tier, request flags (``X-Cost-Dry-Run``, ``X-Cost-Include-Fields``) and
the HTTP sub-response that receives the ``X-RateLimit-*`` headers and the 429.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import strawberry
from graphql import GraphQLSchema
from starlette.responses import Response

from cost.analysis import Evaluator, root_type_name
from cost.directives import cost, list_size
from cost.extension import CostRequest, OperationCost, current_operation
from cost.service import CostService
from resolvers.context import Context
from schema.compiled.batch import reads
from schema.info import Info

DRY_RUN_HEADER = "x-cost-dry-run"
INCLUDE_FIELDS_HEADER = "x-cost-include-fields"
_TRUE = frozenset({"1", "true", "yes", "on"})
FREE = cost(0)
BREAKDOWN_SIZE = 200


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _TRUE


_FLAG_INDEX = {DRY_RUN_HEADER.encode("latin-1"): 0, INCLUDE_FIELDS_HEADER.encode("latin-1"): 1}


def _request_flags(request: Any) -> tuple[bool, bool]:
    """``X-Cost-Dry-Run`` and ``X-Cost-Include-Fields``: each header's first value, as
    ``request.headers.get`` reads it, in one pass over the ASGI scope's headers (for a
    header that was not sent, the usual case, ``get`` raises and catches a KeyError)."""
    scope = getattr(request, "scope", None)
    raw = scope.get("headers") if isinstance(scope, dict) else None
    if not isinstance(raw, list):
        headers: Mapping[str, str] = getattr(request, "headers", None) or {}
        return _flag(headers.get(DRY_RUN_HEADER)), _flag(headers.get(INCLUDE_FIELDS_HEADER))
    found: list[str | None] = [None, None]
    for name, value in raw:
        index = _FLAG_INDEX.get(name)
        if index is not None and found[index] is None:
            found[index] = value.decode("latin-1")
    return _flag(found[0]), _flag(found[1])


def set_raw_headers(raw: list[tuple[bytes, bytes]], values: Mapping[str, str]) -> None:
    """``headers[name] = value`` for each of ``values`` on Starlette's raw header list,
    in one pass instead of a scan and rebuild per header (the cost extension sets four
    headers twice a request). The result is the same list: names lower-cased and
    latin-1 encoded, a name already present replaced where it first appears (its later
    duplicates dropped), new names appended in order."""
    new = {
        name.lower().encode("latin-1"): value.encode("latin-1") for name, value in values.items()
    }
    if not raw or new.keys().isdisjoint([name for name, _ in raw]):
        raw += new.items()
        return
    pending = dict(new)
    kept: list[tuple[bytes, bytes]] = []
    for item in raw:
        name = item[0]
        if name not in new:
            kept.append(item)
        elif name in pending:
            kept.append((name, pending.pop(name)))
    kept += pending.items()
    raw[:] = kept


def bind_cost_request(context: Any) -> CostRequest | None:
    """The cost extension's view of one request (``None`` outside the app)."""
    if not isinstance(context, Context):
        return None
    service = context.services.get("cost")
    if not isinstance(service, CostService):
        return None
    dry_run, include_fields = _request_flags(context.request)
    response = context.response
    set_headers = set_status = None
    if isinstance(response, Response):
        sub: Response = response

        def set_headers(values: Mapping[str, str]) -> None:
            set_raw_headers(sub.headers.raw, values)

        def set_status(code: int) -> None:
            sub.status_code = code

    return CostRequest(
        service=service,
        budget_key=context.principal.budget_key,
        tier=context.principal.tier,
        dry_run=dry_run,
        include_fields=include_fields,
        set_headers=set_headers,
        set_status=set_status,
    )


@strawberry.type(description="The cost of one field selection (a per-field breakdown entry).")
class CostFieldBreakdown:
    path: list[str] = strawberry.field(description="Response keys from the root to the field.")
    defined_cost: float = strawberry.field(description="Weight of one returned item.")
    size: int = strawberry.field(description="Items the estimate assumes (1 for a single value).")
    requested_total_cost: int = strawberry.field(
        description="Estimated cost of the field including everything below it."
    )
    requested_children_cost: int = strawberry.field(
        description="The part of the total spent below the field."
    )


@strawberry.type(
    description=(
        "The price of this operation and the caller's budget (a leaky bucket of points "
        "that refills at restoreRate per second)."
    ),
    directives=[FREE],
)
class RateLimit:
    op: strawberry.Private[OperationCost]
    service: strawberry.Private[CostService]
    schema: strawberry.Private[GraphQLSchema]

    @strawberry.field(description="Estimated (requested) cost of this operation, in points.")
    @reads("op.requested")
    def cost(self) -> int:
        return self.op.requested

    @strawberry.field(description="The most one operation may cost for the caller's tier.")
    @reads("op.maximum")
    def max_cost(self) -> int:
        return self.op.maximum

    @strawberry.field(description="True when nothing but this field was executed or charged.")
    @reads("op.dry_run")
    def dry_run(self) -> bool:
        return self.op.dry_run

    @strawberry.field(description="The caller's tier (sets capacity and restore rate).")
    @reads("op.tier.name")
    def tier(self) -> str:
        return self.op.tier.name

    @strawberry.field(description="Bucket capacity: the most points the caller can hold.")
    def limit(self) -> int:
        return int(self.op.tier.capacity)

    @strawberry.field(description="Points the bucket refills per second.")
    @reads("op.tier.restore_rate")
    def restore_rate(self) -> float:
        return self.op.tier.restore_rate

    @strawberry.field(
        description=(
            "Points available now (after this operation's charge; before it for a dry run)."
        )
    )
    def remaining(self) -> int | None:
        status = self.op.status
        return None if status is None else int(status.currently_available)

    @strawberry.field(description="When the bucket will be full again.")
    def reset_at(self) -> datetime | None:
        status = self.op.status
        if status is None:
            return None
        return datetime.now(UTC) + timedelta(seconds=status.seconds_until_full)

    @strawberry.field(
        description="Seconds until this operation's cost fits the bucket (0 when it fits now)."
    )
    def wait_seconds(self) -> float | None:
        status = self.op.status
        if status is None:
            return None
        if not self.op.dry_run:
            return 0.0
        return round(status.seconds_until(self.op.requested), 3)

    @strawberry.field(
        description="Per-field breakdown of the estimate, in document order.",
        directives=[FREE, list_size(assumed_size=BREAKDOWN_SIZE)],
    )
    def fields(self) -> list[CostFieldBreakdown]:
        est = self.op.estimate
        if est is None:
            return []
        model = self.service.model(self.schema)
        ev = Evaluator(model, self.service.config.analysis, est.variables)
        entries, _ = ev.breakdown(est.shape, root_type_name(model, est.shape), BREAKDOWN_SIZE)
        return [
            CostFieldBreakdown(
                path=list(e.path),
                defined_cost=e.defined_cost,
                size=e.size,
                requested_total_cost=round(e.requested_total_cost),
                requested_children_cost=round(e.requested_children_cost),
            )
            for e in entries
        ]


@strawberry.type(description="Budget parameters of a plan tier.")
class CostTier:
    name: str
    capacity: int = strawberry.field(description="Bucket capacity in points.")
    restore_rate: float = strawberry.field(description="Points restored per second.")
    max_operation_cost: int = strawberry.field(
        description="Largest cost one operation may have in this tier."
    )


@strawberry.type(description="The declared price of one field (non-default entries only).")
class FieldCostInfo:
    coordinate: str = strawberry.field(description="Schema coordinate, e.g. Asset.candles.")
    weight: float = strawberry.field(description="Weight of one returned item.")
    assumed_size: int | None = None
    slicing_arguments: list[str] = strawberry.field(default_factory=list)
    sized_fields: list[str] = strawberry.field(default_factory=list)
    time_series: bool = strawberry.field(
        default=False,
        description="Sized by points in range: ceil((to - from) / interval) + 1, capped by last.",
    )


@strawberry.type(description="How operations are priced (the schema's cost directives as data).")
class CostModelInfo:
    max_operation_cost: int
    default_list_size: int = strawberry.field(
        description="Size assumed for a list that declares neither slicing argument nor size."
    )
    introspection_cost: float
    tiers: list[CostTier] = strawberry.field(directives=[FREE, list_size(assumed_size=20)])
    fields: list[FieldCostInfo] = strawberry.field(directives=[FREE, list_size(assumed_size=500)])


def _service(info: Info) -> CostService:
    service = info.context.services.get("cost")
    return service if isinstance(service, CostService) else _DEFAULT_SERVICE


_DEFAULT_SERVICE = CostService()


@strawberry.type
class CostQuery:
    @strawberry.field(
        description=(
            "The cost of this operation and the caller's budget. With dryRun: true the "
            "rest of the operation is not executed and nothing is charged."
        ),
        directives=[FREE],
    )
    def rate_limit(self, info: Info, dry_run: bool = False) -> RateLimit | None:
        op = current_operation()
        if op is None:
            return None
        return RateLimit(op=op, service=_service(info), schema=info.schema._schema)

    @strawberry.field(
        description="The published cost model: weights, sizes and tiers.", directives=[FREE]
    )
    def cost_model(self, info: Info) -> CostModelInfo:
        service = _service(info)
        model = service.model(info.schema._schema)
        cfg = service.config
        return CostModelInfo(
            max_operation_cost=int(cfg.max_operation_cost),
            default_list_size=cfg.analysis.default_list_size,
            introspection_cost=cfg.analysis.introspection_cost,
            tiers=[
                CostTier(
                    name=t.name,
                    capacity=int(t.capacity),
                    restore_rate=t.restore_rate,
                    max_operation_cost=int(service.max_cost(t)),
                )
                for t in cfg.tiers.values()
            ],
            fields=[
                FieldCostInfo(
                    coordinate=f"{fc.parent}.{fc.name}",
                    weight=fc.weight,
                    assumed_size=fc.list_size.assumed_size if fc.list_size else None,
                    slicing_arguments=list(fc.list_size.slicing_arguments) if fc.list_size else [],
                    sized_fields=list(fc.list_size.sized_fields) if fc.list_size else [],
                    time_series=fc.time_series is not None,
                )
                for fc in model.describe()
            ],
        )
