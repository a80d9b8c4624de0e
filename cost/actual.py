"""Actual cost: the same weights, applied to what the response really holds.

The static estimate assumes every list is full; the actual cost counts the
items that came back (Shopify's ``actualQueryCost``, IBM's ``responseCosts``).
The difference is refunded to the caller's budget.

The walk follows the executor's rules rather than the analyser's: fields with
the same response key are merged (the response holds them once), ``null``
objects and empty lists cost nothing, and an object under an interface or
union is priced as the concrete type whose selection matches the keys it has
(``__typename`` decides when it was selected). Free leaves are never visited,
and a list of objects whose selection holds nothing priced is counted without
visiting its items, so the walk stays a small fraction of execution time.

A walker kept on its shape (no ``@skip``/``@include``) is turned into
straight-line Python on its second use (:class:`_WalkCompiler`): one function
per selection with its priced keys, weights and child functions bound in, the
common value types (dicts, lists) tested inline and anything else handed back
to the generic :meth:`ActualCounter.value_cost`. It adds the same numbers in
the same order, so the two give identical floats; a test checks them against
each other on generated data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from graphql.execution.values import VariableValues

from cost.analysis import INTROSPECTION_FIELDS, AnalysisConfig
from cost.arguments import argument_cost, is_included
from cost.model import CostModel, FieldCost
from cost.plan import SelectionPlan, Shape

# How a priced field's value is walked (``_Entry.mode``, decided on first use).
_UNDECIDED, _COUNTED, _OBJECT, _ABSTRACT = 0, 1, 2, 3


@dataclass(slots=True)
class _Entry:
    fc: FieldCost
    arg_cost: float
    children: list[SelectionPlan] = field(default_factory=list)
    #: the children's collected fields per concrete type (filled on first use)
    collected: dict[str, _Collected] = field(default_factory=dict)
    #: _COUNTED: a leaf, or objects whose selection holds nothing priced (the weight
    #: per non-null item); _OBJECT: a concrete type's objects, walked (``child``);
    #: _ABSTRACT: an interface or union, priced per concrete type
    mode: int = _UNDECIDED
    child: _Collected | None = None


@dataclass(slots=True)
class _Collected:
    #: response keys that can carry a price (composite, weighted leaf, argument cost)
    priced: dict[str, _Entry]
    #: every response key the selection produces for this type
    keys: frozenset[str]
    #: ``priced.items()`` as a tuple, for the walk
    pairs: tuple[tuple[str, _Entry], ...] = ()
    #: the generated walk of objects of this selection (:class:`_WalkCompiler`)
    walk: Callable[[dict[str, Any]], float] | None = None


_MISSING = object()


class ActualCounter:
    def __init__(
        self,
        model: CostModel,
        config: AnalysisConfig,
        variables: VariableValues | None,
    ) -> None:
        self.model = model
        self.config = config
        self.variables = variables
        self._collected: dict[tuple[tuple[int, ...], str], _Collected] = {}
        #: walks of the root selection so far (a kept walker compiles on its second)
        self.uses = 0

    def collect_for(self, entry: _Entry, type_name: str) -> _Collected:
        found = entry.collected.get(type_name)
        if found is None:
            found = entry.collected[type_name] = self.collect(entry.children, type_name)
        return found

    def collect(self, plans: list[SelectionPlan], type_name: str) -> _Collected:
        key = (tuple(id(p) for p in plans), type_name)
        found = self._collected.get(key)
        if found is None:
            found = self._collected[key] = self._collect(plans, type_name)
        return found

    def _collect(self, plans: list[SelectionPlan], type_name: str) -> _Collected:
        priced: dict[str, _Entry] = {}
        keys: set[str] = set()
        possible = self.model.possible_types

        def visit(plan: SelectionPlan) -> None:
            for fp in plan.fields:
                if fp.conditional and not is_included(fp.node, self.variables):
                    continue
                keys.add(fp.key)
                if fp.name == "__typename":
                    continue
                if fp.name in INTROSPECTION_FIELDS:
                    fc = FieldCost(
                        parent=type_name,
                        name=fp.name,
                        weight=self.config.introspection_cost,
                        declared_weight=None,
                        is_list=False,
                        is_leaf=True,
                        is_abstract=False,
                        returns=fp.name,
                    )
                else:
                    found = self.model.field_cost(type_name, fp.name)
                    if found is None:
                        continue
                    fc = found
                arg = argument_cost(fc, fp.node)
                if fc.is_leaf and fc.weight == 0 and arg == 0:
                    continue
                entry = priced.get(fp.key)
                if entry is None:
                    entry = priced[fp.key] = _Entry(fc=fc, arg_cost=arg)
                else:
                    entry.arg_cost = max(entry.arg_cost, arg)
                if fp.children is not None:
                    entry.children.append(fp.children)
            for fr in plan.fragments:
                if fr.conditional and not is_included(fr.node, self.variables):
                    continue
                cond = fr.type_condition
                if (
                    cond is not None
                    and cond != type_name
                    and type_name not in possible.get(cond, ())
                ):
                    continue
                visit(fr.plan)

        for plan in plans:
            visit(plan)
        return _Collected(priced=priced, keys=frozenset(keys), pairs=tuple(priced.items()))

    # -- values --------------------------------------------------------------

    def root_cost(self, collected: _Collected, data: dict[str, Any], *, kept: bool) -> float:
        """The cost of ``data`` for the root selection ``collected``; a ``kept`` walker
        (reused across requests) generates its walk on the second call."""
        walk = collected.walk
        if walk is not None:
            return walk(data)
        if kept:
            self.uses += 1
            if self.uses >= 2:
                return _WalkCompiler(self).object_walk(collected)(data)
        return self.object_cost(collected, data)

    def object_cost(self, collected: _Collected, obj: dict[str, Any]) -> float:
        walk = collected.walk
        if walk is not None:
            return walk(obj)
        return self.object_cost_generic(collected, obj)

    def object_cost_generic(self, collected: _Collected, obj: dict[str, Any]) -> float:
        total = 0.0
        get = obj.get
        for key, entry in collected.pairs:
            value = get(key, _MISSING)
            if value is _MISSING:
                continue
            total += entry.arg_cost
            if value is not None:
                total += self.value_cost(entry, value)
        return total

    def _decide(self, entry: _Entry) -> int:
        fc = entry.fc
        if fc.is_abstract:
            entry.mode = _ABSTRACT
        elif fc.is_leaf:
            entry.mode = _COUNTED
        else:
            entry.child = self.collect_for(entry, fc.returns)
            entry.mode = _OBJECT if entry.child.priced else _COUNTED
        return entry.mode

    def value_cost(self, entry: _Entry, value: Any) -> float:
        """The cost of ``value`` (not None) of the priced field ``entry``."""
        mode = entry.mode or self._decide(entry)
        kind = type(value)  # executors build plain lists and dicts
        if kind is list or (kind is not dict and isinstance(value, list)):
            if mode == _COUNTED:
                fc = entry.fc
                return fc.weight * (_count(value) if fc.is_leaf else _count_objects(value))
            total = 0.0
            for item in value:
                if item is not None:
                    total += self.value_cost(entry, item)
            return total
        if mode == _COUNTED or (kind is not dict and not isinstance(value, dict)):
            return entry.fc.weight
        if mode == _OBJECT:
            assert entry.child is not None
            return entry.fc.weight + self.object_cost(entry.child, value)
        return self._abstract_cost(entry, value)

    def _abstract_cost(self, entry: _Entry, obj: dict[str, Any]) -> float:
        fc = entry.fc
        candidates = self.model.concrete_types(fc.returns)
        typename = obj.get("__typename")
        if isinstance(typename, str) and typename in candidates:
            candidates = (typename,)
        else:
            keys = frozenset(obj)
            matching = tuple(c for c in candidates if self.collect_for(entry, c).keys == keys)
            candidates = matching or candidates
        best = 0.0
        for concrete in candidates:
            weight = (
                fc.declared_weight
                if fc.declared_weight is not None
                else self.model.type_weight(concrete)
            )
            best = max(best, weight + self.object_cost(self.collect_for(entry, concrete), obj))
        return best


def _count_objects(items: list[Any]) -> int:
    """:func:`_count` of a list of objects: its items nest alike (a GraphQL list type
    has one depth), so the first non-null item tells whether to descend."""
    for item in items:
        if item is not None:
            if not isinstance(item, list):
                return len(items) - items.count(None)
            break
    return _count(items)


def _count(items: list[Any]) -> int:
    n = 0
    for item in items:
        if isinstance(item, list):
            n += _count(item)
        elif item is not None:
            n += 1
    return n


def actual_cost(
    model: CostModel,
    shape: Shape,
    variables: VariableValues | None,
    data: dict[str, Any] | None,
    root_type: str,
    config: AnalysisConfig | None = None,
) -> float:
    """The cost of the data an operation actually returned."""
    if not data:
        return 0.0
    config = config or AnalysisConfig()
    if shape.conditional:
        counter = ActualCounter(model, config, variables)
    else:
        # Without @skip/@include the walk's structure does not depend on the
        # variables: it is built once per (shape, model, config) and kept on the shape.
        key = (id(model), id(config))
        hit = shape.counters.get(key)
        if hit is not None and hit[0] is model and hit[1] is config:
            counter = hit[2]
        else:
            if len(shape.counters) >= 4:
                shape.counters.clear()
            counter = ActualCounter(model, config, None)
            shape.counters[key] = (model, config, counter)
    return counter.root_cost(
        counter.collect([shape.root], root_type), data, kept=not shape.conditional
    )


class _WalkCompiler:
    """Generates :meth:`ActualCounter.object_cost` for one selection as Python source.

    For the selection ``{ price signals { kind } }`` of an asset (price an object
    of weight 1, signals a list of unpriced objects)::

        def walk(obj):
            total = 0.0
            get = obj.get
            v = get('price')
            if v is not None:
                total += (w1 if type(v) is dict else g2(v))
            v = get('signals')
            ...
            return total

    (A key with an argument cost reads ``get(key, _M)``: present and null still costs
    its argument.) Names bound in (weights, argument costs, child walks, the generic fallbacks)
    come from the model, never from a request; keys are emitted through ``repr``.
    """

    def __init__(self, counter: ActualCounter) -> None:
        self.counter = counter
        self.env: dict[str, Any] = {
            "_M": _MISSING,
            "_count": _count,
            "_count_objects": _count_objects,
        }
        self.n = 0

    def bind(self, value: Any) -> str:
        self.n += 1
        name = f"b{self.n}"
        self.env[name] = value
        return name

    def object_walk(self, collected: _Collected) -> Callable[[dict[str, Any]], float]:
        if collected.walk is not None:
            return collected.walk
        # a selection reached again while its own walk is being generated (not
        # possible for a finite document, but never loop): the generic walk
        collected.walk = partial(self.counter.object_cost_generic, collected)
        lines = ["def walk(obj):", "    total = 0.0", "    get = obj.get"]
        for key, entry in collected.pairs:
            if not entry.arg_cost:  # a missing key and a null cost the same: nothing
                lines += [f"    v = get({key!r})", "    if v is not None:"]
                lines.append(f"        total += {self.value(entry)}")
                continue
            lines += [f"    v = get({key!r}, _M)", "    if v is not _M:"]
            lines.append(f"        total += {self.bind(entry.arg_cost)}")
            lines += ["        if v is not None:", f"            total += {self.value(entry)}"]
        lines.append("    return total")
        walk: Callable[[dict[str, Any]], float] = self.define(lines, "walk")
        collected.walk = walk
        return walk

    def value(self, entry: _Entry) -> str:
        """An expression for ``value_cost(entry, v)`` (``v`` not None)."""
        counter = self.counter
        mode = entry.mode or counter._decide(entry)
        generic = self.bind(partial(counter.value_cost, entry))
        weight = self.bind(entry.fc.weight)
        if mode == _COUNTED:
            if entry.fc.is_leaf:
                return f"({weight} * _count(v) if type(v) is list else {generic}(v))"
            # _count_objects, inline for a list of objects; a single object: its weight
            objects = "(not v or type(v[0]) is dict)"
            return (
                f"({weight} * (len(v) - v.count(None)) if type(v) is list and {objects}"
                f" else {weight} if type(v) is dict else {generic}(v))"
            )
        if mode == _OBJECT:
            assert entry.child is not None
            child = self.bind(self.object_walk(entry.child))
            items = self.bind(self.list_walk(weight, child, generic))
            return f"({weight} + {child}(v) if type(v) is dict else {items}(v))"
        return f"{generic}(v)"

    def list_walk(self, weight: str, child: str, generic: str) -> Callable[[Any], float]:
        """``value_cost`` of an object-valued entry for a value that is not a dict."""
        return self.define(  # type: ignore[no-any-return]
            [
                "def items(v):",
                "    if type(v) is not list:",
                f"        return {generic}(v)",
                "    total = 0.0",
                "    for x in v:",
                "        if x is not None:",
                f"            total += ({weight} + {child}(x) if type(x) is dict else items(x))",
                "    return total",
            ],
            "items",
        )

    def define(self, lines: list[str], name: str) -> Any:
        source = "\n".join(lines)
        namespace = dict(self.env)
        exec(compile(source, "<cost walk>", "exec"), namespace)  # noqa: S102 - see class doc
        fn = namespace[name]
        fn.__doc__ = source
        return fn
