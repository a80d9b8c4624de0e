"""Static cost: what an operation may cost, from its document and variables alone.

Formula (IBM cost spec, as implemented by Apollo Router and priced like
Shopify)::

    cost(field) = Σ argument weights + size × (weight + cost(selection))
    cost(selection on a concrete type T) = Σ cost(field) over the selected fields of T

* ``weight`` is the field's ``@cost``, else its type's, else 1 for objects,
  interfaces and unions and 0 for scalars and enums.
* ``size`` is 1 for a single value. For a list it is the largest slicing
  argument given (variables resolved, schema defaults applied), else the
  field's ``assumedSize``, else the configured default list size. A time series
  is sized by the points its range holds (``ceil(range ÷ interval) + 1``),
  capped by its slicing argument (``last``). A connection's size is applied to
  its ``sizedFields`` (``edges``, ``nodes``), not to the connection object.
* A field returning an interface or union costs as much as its most expensive
  possible type.
* Every selection counts, including a field repeated under an alias or
  through several fragment spreads (that is how amplification attacks are
  priced); ``@skip``/``@include`` are honoured with the request's variables.
* ``__typename`` is free; ``__schema``/``__type`` cost a flat, small amount.

The estimate is an upper bound on the actual cost (see :mod:`cost.actual`) as
long as declared sizes bound the real list lengths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, OperationType
from graphql.execution.values import VariableValues

from cost.arguments import (
    argument_cost,
    coerce_variables,
    field_arguments,
    is_included,
    read_arguments,
)
from cost.intervals import as_utc, interval_seconds, points_in_range
from cost.model import CostModel, FieldCost
from cost.plan import FieldPlan, SelectionPlan, Shape

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    #: size of a list field that declares neither a slicing argument nor an assumed size
    default_list_size: int = 10
    #: flat price of a ``__schema`` or ``__type`` selection
    introspection_cost: float = 1.0
    #: at most this many entries in a per-field breakdown
    breakdown_limit: int = 200


@dataclass(frozen=True, slots=True)
class FieldBreakdown:
    path: tuple[str, ...]
    defined_cost: float
    size: int
    requested_total_cost: float
    requested_children_cost: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": list(self.path),
            "definedCost": rounded(self.defined_cost),
            "size": self.size,
            "requestedTotalCost": rounded(self.requested_total_cost),
            "requestedChildrenCost": rounded(self.requested_children_cost),
        }


@dataclass(slots=True)
class Estimate:
    """The static price of one operation with one set of variables."""

    total: float
    shape: Shape
    #: coerced variables (``None`` when they did not coerce: execution will reject them)
    variables: VariableValues | None
    fields: list[FieldBreakdown] | None = None
    fields_truncated: bool = False
    #: root fields' coerced arguments, by field name (for dry-run detection)
    root_arguments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def cost(self) -> int:
        return rounded(self.total)


def rounded(value: float) -> int:
    """Costs are reported as whole points, rounded up (tiny float noise ignored)."""
    return max(0, math.ceil(value - 1e-9))


class Evaluator:
    """Prices one shape with one set of variables; memoised per (plan, type, size)."""

    def __init__(
        self,
        model: CostModel,
        config: AnalysisConfig,
        variables: VariableValues | None,
        now: datetime | None = None,
    ) -> None:
        self.model = model
        self.config = config
        self.variables = variables
        self.now = now or datetime.now(UTC)
        #: whether a price depended on the clock (a time series open at the end)
        self.read_clock = False
        self._memo: dict[tuple[int, str, tuple[tuple[str, int], ...]], float] = {}
        self._field_memo: dict[
            tuple[int, str, int | None], tuple[float, float, int, float, str | None]
        ] = {}

    # -- sizes ---------------------------------------------------------------

    def size_of(self, fc: FieldCost, args: dict[str, Any]) -> int:
        """How many items a list field (or a connection's sized fields) returns."""
        ls = fc.list_size
        sliced: int | None = None
        if ls and ls.slicing_arguments:
            values = [
                v
                for name in ls.slicing_arguments
                if isinstance(v := args.get(name), int) and not isinstance(v, bool)
            ]
            if values:
                sliced = max(0, *values)
        if fc.time_series is not None:
            points = self._points(fc, args)
            if points is not None:
                return points if sliced is None else min(points, sliced)
        if sliced is not None:
            return sliced
        if ls and ls.assumed_size is not None:
            return max(0, ls.assumed_size)
        return self.config.default_list_size

    def _points(self, fc: FieldCost, args: dict[str, Any]) -> int | None:
        ts = fc.time_series
        assert ts is not None
        step = interval_seconds(args.get(ts.interval_argument))
        start = as_utc(args.get(ts.from_argument)) if ts.from_argument else None
        if step is None or start is None:
            return None
        end = as_utc(args.get(ts.to_argument)) if ts.to_argument else None
        if end is None:
            self.read_clock = True
            end = max(self.now, start)
        return points_in_range(start, end, step)

    # -- costs ---------------------------------------------------------------

    def selection(
        self, plan: SelectionPlan | None, type_name: str, sized: tuple[tuple[str, int], ...] = ()
    ) -> float:
        if plan is None:
            return 0.0
        key = (id(plan), type_name, sized)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        total = 0.0
        sizes = dict(sized)
        for fp in plan.fields:
            if fp.conditional and not is_included(fp.node, self.variables):
                continue
            total += self.field(fp, type_name, sizes.get(fp.name))[0]
        for fr in plan.fragments:
            if fr.conditional and not is_included(fr.node, self.variables):
                continue
            if fr.type_condition is not None and not self.applies(fr.type_condition, type_name):
                continue
            total += self.selection(fr.plan, type_name, sized)
        self._memo[key] = total
        return total

    def applies(self, condition: str, type_name: str) -> bool:
        return condition == type_name or type_name in self.model.possible_types.get(condition, ())

    def field(
        self, fp: FieldPlan, parent: str, inherited_size: int | None
    ) -> tuple[float, float, int, float, str | None]:
        """``(total, weight, size, children, chosen concrete type)`` of one field selection."""
        key = (id(fp), parent, inherited_size)
        cached = self._field_memo.get(key)
        if cached is not None:
            return cached
        result = self._field(fp, parent, inherited_size)
        self._field_memo[key] = result
        return result

    def _field(
        self, fp: FieldPlan, parent: str, inherited_size: int | None
    ) -> tuple[float, float, int, float, str | None]:
        if fp.name == "__typename":
            return (0.0, 0.0, 1, 0.0, None)
        if fp.name in INTROSPECTION_FIELDS:
            c = self.config.introspection_cost
            return (c, c, 1, 0.0, None)
        fc = self.model.field_cost(parent, fp.name)
        if fc is None:
            return (0.0, 0.0, 1, 0.0, None)
        args = field_arguments(fc, fp.node, self.variables) if fc.needs_arguments else {}
        size = 1
        child_sized: tuple[tuple[str, int], ...] = ()
        if fc.is_connection:
            assert fc.list_size is not None
            n = self.size_of(fc, args)
            child_sized = tuple((name, n) for name in fc.list_size.sized_fields)
            if fc.is_list:
                size = (
                    inherited_size
                    if inherited_size is not None
                    else (fc.list_size.assumed_size or self.config.default_list_size)
                )
        elif fc.is_list:
            size = inherited_size if inherited_size is not None else self.size_of(fc, args)
        arg_cost = argument_cost(fc, fp.node)
        if fc.is_leaf:
            weight, children, chosen = fc.weight, 0.0, None
        elif fc.is_abstract:
            weight, children, chosen = 0.0, 0.0, None
            best = -math.inf
            for concrete in self.model.concrete_types(fc.returns):
                w = (
                    fc.declared_weight
                    if fc.declared_weight is not None
                    else self.model.type_weight(concrete)
                )
                c = self.selection(fp.children, concrete, child_sized)
                if w + c > best:
                    best, weight, children, chosen = w + c, w, c, concrete
        else:
            weight = fc.weight
            children = self.selection(fp.children, fc.returns, child_sized)
            chosen = fc.returns
        total = max(0.0, arg_cost + size * (weight + children))
        return (total, weight, size, size * children, chosen)

    # -- breakdown -----------------------------------------------------------

    def breakdown(
        self, shape: Shape, root_type: str, limit: int
    ) -> tuple[list[FieldBreakdown], bool]:
        """Per-field entries (path, weight, size, totals), at most ``limit`` of them."""
        out: list[FieldBreakdown] = []
        truncated = False
        # Visits are bounded too: free leaves repeated through fragments add no
        # entries but would otherwise be walked one by one.
        budget = max(1, limit) * 50

        def walk(
            plan: SelectionPlan | None,
            type_name: str,
            path: tuple[str, ...],
            sized: tuple[tuple[str, int], ...],
        ) -> None:
            nonlocal truncated
            if plan is None:
                return
            nonlocal budget
            sizes = dict(sized)
            for fp in plan.fields:
                budget -= 1
                if budget < 0:
                    truncated = True
                if truncated:
                    return
                if fp.conditional and not is_included(fp.node, self.variables):
                    continue
                total, weight, size, children, chosen = self.field(
                    fp, type_name, sizes.get(fp.name)
                )
                if total <= 0 and fp.children is None:
                    continue
                if len(out) >= limit:
                    truncated = True
                    return
                out.append(
                    FieldBreakdown(
                        path=(*path, fp.key),
                        defined_cost=weight,
                        size=size,
                        requested_total_cost=total,
                        requested_children_cost=children,
                    )
                )
                if chosen is not None and fp.children is not None:
                    fc = self.model.field_cost(type_name, fp.name)
                    child_sized: tuple[tuple[str, int], ...] = ()
                    if fc is not None and fc.is_connection and fc.list_size is not None:
                        args = field_arguments(fc, fp.node, self.variables)
                        n = self.size_of(fc, args)
                        child_sized = tuple((name, n) for name in fc.list_size.sized_fields)
                    walk(fp.children, chosen, (*path, fp.key), child_sized)
            for fr in plan.fragments:
                if truncated:
                    return
                if fr.conditional and not is_included(fr.node, self.variables):
                    continue
                if fr.type_condition is not None and not self.applies(fr.type_condition, type_name):
                    continue
                walk(fr.plan, type_name, path, sized)

        walk(shape.root, root_type, (), ())
        return out, truncated


def root_type_name(model: CostModel, shape: Shape) -> str:
    schema = model.schema
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[shape.operation_type]
    if root is None:
        raise GraphQLError(f"Schema is not configured for {shape.operation_type.value}s.")
    return root.name


def root_field_arguments(
    model: CostModel, shape: Shape, variables: VariableValues | None, names: frozenset[str]
) -> dict[str, list[dict[str, Any]]]:
    """Coerced arguments of the root fields named in ``names`` (through root fragments)."""
    root = root_type_name(model, shape)
    found: dict[str, list[dict[str, Any]]] = {}

    def walk(plan: SelectionPlan) -> None:
        for fp in plan.fields:
            if fp.name in names and is_included(fp.node, variables):
                fc = model.field_cost(root, fp.name)
                definition = fc.definition if fc else None
                args = (
                    read_arguments(definition, fp.node, variables, definition.args)
                    if definition
                    else {}
                )
                found.setdefault(fp.name, []).append(args)
        for fr in plan.fragments:
            if is_included(fr.node, variables):
                walk(fr.plan)

    if names:
        walk(shape.root)
    return found


def estimate(
    model: CostModel,
    shape: Shape,
    variables: dict[str, Any] | None,
    config: AnalysisConfig | None = None,
    *,
    breakdown: bool = False,
    now: datetime | None = None,
    root_fields: frozenset[str] = frozenset(),
) -> Estimate:
    """Price ``shape`` with the request's raw ``variables``.

    Estimates are kept on the shape per (variables, options) unless they read the
    clock (a time series without an end): a dashboard polling one document with the
    same variables is priced once. An estimate is never modified after it is made.
    """
    config = config or AnalysisConfig()
    key = None
    if now is None:
        key = _memo_key(model, variables, config, breakdown, root_fields)
        if key is not None:
            found: Estimate | None = shape.estimates.get(key)
            if found is not None:
                return found
    coerced = coerce_variables(model, shape, variables)
    root = root_type_name(model, shape)
    ev = Evaluator(model, config, coerced, now)
    total = ev.selection(shape.root, root)
    result = Estimate(total=total, shape=shape, variables=coerced)
    if breakdown:
        result.fields, result.fields_truncated = ev.breakdown(shape, root, config.breakdown_limit)
    result.root_arguments = root_field_arguments(model, shape, coerced, root_fields)
    if key is not None and not ev.read_clock:
        if len(shape.estimates) >= _ESTIMATES_PER_SHAPE:
            shape.estimates.clear()
        shape.estimates[key] = result
    return result


_ESTIMATES_PER_SHAPE = 32


def _memo_key(
    model: CostModel,
    variables: dict[str, Any] | None,
    config: AnalysisConfig,
    breakdown: bool,
    root_fields: frozenset[str],
) -> Any:
    """A hashable key of an estimate's inputs besides the shape, or None (unhashable)."""
    frozen = frozen_variables(variables)
    if frozen is None:
        return None
    return (id(model), config, breakdown, root_fields, frozen)


def frozen_variables(value: Any) -> Any:
    """A hashable, type-exact image of variable values (raw or coerced), or None when
    some value is unhashable: a memo key for work that depends only on them."""
    try:
        frozen = _freeze(value)
        hash(frozen)
    except TypeError:
        return None
    return frozen


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return (dict, tuple(sorted((str(k), _freeze(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return (list, tuple(_freeze(v) for v in value))
    return (type(value), value)  # 1, 1.0 and True are equal keys but not equal values
