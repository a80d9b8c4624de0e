"""Dry runs: answer with the price, run nothing.

GitHub-style, a query that selects ``rateLimit(dryRun: true)`` gets only that
field resolved: the operation is cut down to its ``rateLimit`` root fields
before execution, so no other resolver runs and nothing is charged.
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
)


def restrict_to_root_fields(
    document: DocumentNode, operation: OperationDefinitionNode, names: frozenset[str]
) -> DocumentNode:
    """A copy of ``document`` whose ``operation`` selects only root fields in ``names``.

    Root-level fragments are inlined with their type condition and directives
    kept, so ``@skip``/``@include`` still apply. Other definitions (fragments
    used below the kept fields) are carried over unchanged.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }

    def keep(selection_set: SelectionSetNode) -> SelectionSetNode:
        out: list[SelectionNode] = []
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                if sel.name.value in names:
                    out.append(sel)
            elif isinstance(sel, InlineFragmentNode):
                inner = keep(sel.selection_set)
                if inner.selections:
                    out.append(
                        InlineFragmentNode(
                            type_condition=sel.type_condition,
                            directives=sel.directives,
                            selection_set=inner,
                        )
                    )
            elif isinstance(sel, FragmentSpreadNode):
                definition = fragments.get(sel.name.value)
                if definition is None:
                    continue
                inner = keep(definition.selection_set)
                if inner.selections:
                    out.append(
                        InlineFragmentNode(
                            type_condition=definition.type_condition,
                            directives=sel.directives,
                            selection_set=inner,
                        )
                    )
        return SelectionSetNode(selections=tuple(out))

    restricted = OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=operation.variable_definitions,
        directives=operation.directives,
        selection_set=keep(operation.selection_set),
    )
    return DocumentNode(definitions=(restricted, *fragments.values()))
