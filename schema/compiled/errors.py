"""One canonical error list for a result, whichever executor produced it.

When null propagation wipes out part of a result, which errors an executor
reports depends on the order it happened to run fields in: graphql-core stops
a selection set at the first non-null failure (synchronous fields), and drops
errors below positions it has already nulled. To give the same deterministic
answer from the compiled and the reference executor, errors are normalised
after execution:

* errors are taken in the order graphql-core meets them: first everything
  reachable without awaiting, depth first, then what each round of awaited
  (async) fields produced, shallower first — i.e. by (number of async fields
  on the path, path length for async rounds, document order, list order);
* an error is kept unless its position lies at or below a position already
  nulled by a kept error; keeping it nulls its nearest nullable position
  (found from the schema types along its path);
* request errors (no path) come first.

This replays graphql-core's own rule as if every field ran depth first, from
the full set of errors both executors collect. One case stays timing
dependent in graphql-core and is not reproduced: when resolvers that fail in
*different* await rounds (one before its first load, another after it) null
the same position, or one's null covers the other's field, graphql-core
reports whichever finished first and cancels the other; here the earlier one
in the order above is reported (so an error graphql-core dropped may be listed
beside the one it kept). The data is untouched: which positions end up null
does not depend on execution order.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

OrderKey = tuple[int, ...]
DEFINITION_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF
TYPENAME_FIELD = GraphQLField(GraphQLNonNull(GraphQLString))


class DocumentOrder:
    """Positions of response keys in document order, computed on demand."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments

    def _keys(self, sets: list[SelectionSetNode]) -> dict[str, tuple[str, list[SelectionSetNode]]]:
        out: dict[str, tuple[str, list[SelectionSetNode]]] = {}
        seen: set[str] = set()

        def walk(sel_set: SelectionSetNode) -> None:
            for sel in sel_set.selections:
                if isinstance(sel, FieldNode):
                    key = sel.alias.value if sel.alias else sel.name.value
                    _name, subs = out.setdefault(key, (sel.name.value, []))
                    if sel.selection_set is not None:
                        subs.append(sel.selection_set)
                elif isinstance(sel, InlineFragmentNode):
                    walk(sel.selection_set)
                elif isinstance(sel, FragmentSpreadNode):
                    name = sel.name.value
                    frag = self.fragments.get(name)
                    if frag is not None and name not in seen:
                        seen.add(name)
                        walk(frag.selection_set)

        for s in sets:
            walk(s)
        return out

    def walk(self, path: list[str | int]) -> tuple[int, OrderKey, int]:
        """Return, for ``path``: how many async fields lie on it, its document-order
        key, and the length of the prefix that is its nearest nullable position
        (0 = the whole data)."""
        sets = [self.operation.selection_set]
        order: list[int] = []
        phase = 0
        current: GraphQLOutputType | None = self.schema.get_root_type(self.operation.operation)
        nullable_depth = 0
        for depth, element in enumerate(path, start=1):
            if isinstance(element, int):
                order.append(element)
                current = current.of_type if isinstance(current, GraphQLList) else None
            else:
                keys = self._keys(sets)
                names = list(keys)
                order.append(names.index(element) if element in keys else len(names))
                name, sets = keys.get(element, ("", []))
                field = _field(self.schema, current, name)
                current = field.type if field is not None else None
                definition = (field.extensions or {}).get(DEFINITION_BACKREF) if field else None
                if getattr(definition, "is_async", False):
                    phase += 1
            if current is not None and not isinstance(current, GraphQLNonNull):
                nullable_depth = depth
            elif isinstance(current, GraphQLNonNull):
                current = current.of_type
        return phase, tuple(order), nullable_depth


def _field(
    schema: GraphQLSchema, parent: GraphQLOutputType | None, name: str
) -> GraphQLField | None:
    while isinstance(parent, (GraphQLNonNull, GraphQLList)):
        parent = parent.of_type
    if name == "__typename":
        return TYPENAME_FIELD
    candidates: list[Any] = []
    if isinstance(parent, GraphQLUnionType):
        candidates = list(parent.types)
    elif parent is not None:
        candidates = [parent]
    for t in candidates:
        field = getattr(t, "fields", {}).get(name)
        if field is not None:
            return field  # type: ignore[no-any-return]
    return None


def canonical_errors(
    schema: GraphQLSchema,
    errors: list[GraphQLError] | None,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> list[GraphQLError] | None:
    if not errors:
        return errors
    order = DocumentOrder(schema, operation, fragments)
    request_errors: list[GraphQLError] = []
    located: list[tuple[int, OrderKey, str, int, GraphQLError]] = []
    for error in errors:
        if not error.path:
            request_errors.append(error)
            continue
        phase, key, nullable_depth = order.walk(list(error.path))
        located.append((phase, key, error.message, nullable_depth, error))
    # graphql-core resumes awaited fields roughly breadth first (shallower awaits were
    # started first), so within one async round shorter paths come first.
    located.sort(key=lambda item: (item[0], len(item[1]) if item[0] else 0, item[1], item[2]))
    nulled: set[OrderKey] = set()
    kept: list[GraphQLError] = []
    for _phase, key, _message, nullable_depth, error in located:
        if any(key[:i] in nulled for i in range(len(key) + 1)):
            continue
        nulled.add(key[:nullable_depth])
        kept.append(error)
    return (request_errors + kept) or None
