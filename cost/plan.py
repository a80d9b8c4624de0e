"""The "shape" of an operation: its selections compiled once, priced many times.

Pricing needs the variables, but everything else about a document (which
fields, which fragments, under which type conditions) is fixed by its text. A
:class:`Shape` holds that fixed part. Named fragments compile to one shared
:class:`SelectionPlan` referenced from every spread, so a shape stays linear in
the size of the document even when spreads multiply a fragment thousands of
times; the evaluator memoises per plan, so pricing stays linear too. That is
what makes fragment amplification (GHSA-fr49-mhgj-crfc) cheap to *detect* while
still counting every repetition.

Shapes are cached by document text and operation name (:class:`ShapeCache`), so
analysing a known document costs a dictionary lookup plus the evaluation.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
)


class CostAnalysisError(Exception):
    """The document cannot be priced (unknown fragment, fragment cycle, no operation)."""


@dataclass(slots=True, eq=False)
class FieldPlan:
    key: str
    name: str
    node: FieldNode
    #: has ``@skip``/``@include``
    conditional: bool
    children: SelectionPlan | None


@dataclass(slots=True, eq=False)
class FragmentPlan:
    type_condition: str | None
    node: InlineFragmentNode | FragmentSpreadNode
    conditional: bool
    plan: SelectionPlan


@dataclass(slots=True, eq=False)
class SelectionPlan:
    fields: list[FieldPlan] = field(default_factory=list)
    fragments: list[FragmentPlan] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Shape:
    operation: OperationDefinitionNode
    operation_type: OperationType
    root: SelectionPlan
    #: number of plan nodes (fields + fragment uses), for cache admission
    size: int
    #: estimates of this shape that did not depend on the clock (cost.analysis.estimate)
    estimates: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    #: some field or fragment has ``@skip``/``@include`` (what is selected then
    #: depends on the variables)
    conditional: bool = False
    #: actual-cost walkers of this shape, kept when it is not conditional
    #: (cost.actual.actual_cost)
    counters: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


def _has_conditions(node: SelectionNode) -> bool:
    return any(d.name.value in ("skip", "include") for d in node.directives or ())


def select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        if len(ops) == 1:
            return ops[0]
        raise CostAnalysisError(
            "Must provide operation name if query contains multiple operations."
        )
    for op in ops:
        if op.name and op.name.value == operation_name:
            return op
    raise CostAnalysisError(f"Unknown operation named '{operation_name}'.")


def compile_shape(document: DocumentNode, operation_name: str | None = None) -> Shape:
    """Compile the selected operation of ``document`` into a :class:`Shape`.

    Raises :class:`CostAnalysisError` for a spread of an unknown fragment or a
    fragment cycle (graphql-core validation rejects both first; this is the
    guard for callers that price unvalidated documents).
    """
    operation = select_operation(document, operation_name)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    compiled: dict[str, SelectionPlan] = {}
    in_progress: set[str] = set()
    size = 0
    conditional = False

    def plan(selection_set: SelectionSetNode) -> SelectionPlan:
        nonlocal size, conditional
        out = SelectionPlan()
        for sel in selection_set.selections:
            size += 1
            conditional = conditional or _has_conditions(sel)
            if isinstance(sel, FieldNode):
                out.fields.append(
                    FieldPlan(
                        key=sel.alias.value if sel.alias else sel.name.value,
                        name=sel.name.value,
                        node=sel,
                        conditional=_has_conditions(sel),
                        children=plan(sel.selection_set) if sel.selection_set else None,
                    )
                )
            elif isinstance(sel, InlineFragmentNode):
                out.fragments.append(
                    FragmentPlan(
                        type_condition=sel.type_condition.name.value
                        if sel.type_condition
                        else None,
                        node=sel,
                        conditional=_has_conditions(sel),
                        plan=plan(sel.selection_set),
                    )
                )
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                definition = fragments.get(name)
                if definition is None:
                    raise CostAnalysisError(f"Unknown fragment '{name}'.")
                if name in in_progress:
                    raise CostAnalysisError(f"Cannot spread fragment '{name}' within itself.")
                if name not in compiled:
                    in_progress.add(name)
                    compiled[name] = plan(definition.selection_set)
                    in_progress.discard(name)
                out.fragments.append(
                    FragmentPlan(
                        type_condition=definition.type_condition.name.value,
                        node=sel,
                        conditional=_has_conditions(sel),
                        plan=compiled[name],
                    )
                )
        return out

    root = plan(operation.selection_set)
    return Shape(
        operation=operation,
        operation_type=operation.operation,
        root=root,
        size=size,
        conditional=conditional,
    )


class ShapeCache:
    """A small LRU of compiled shapes keyed by (document text, operation name).

    Very large shapes are not kept: they are rare, cheap to recompile relative
    to their execution, and would let a client fill memory with one-off
    documents.
    """

    def __init__(self, maxsize: int = 256, max_shape_size: int = 2000) -> None:
        self.maxsize = maxsize
        self.max_shape_size = max_shape_size
        self._items: OrderedDict[tuple[str, str | None], Shape] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, query: str | None, document: DocumentNode, operation_name: str | None) -> Shape:
        if query is None:
            return compile_shape(document, operation_name)
        key = (query, operation_name)
        shape = self._items.get(key)
        if shape is not None:
            self.hits += 1
            self._items.move_to_end(key)
            return shape
        self.misses += 1
        shape = compile_shape(document, operation_name)
        if shape.size <= self.max_shape_size and self.maxsize > 0:
            self._items[key] = shape
            if len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return shape

    def __len__(self) -> int:
        return len(self._items)
