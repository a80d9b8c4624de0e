"""Reading a selection's arguments and directives with the request's variables.

Pricing reads only what decides a size (slicing, interval and range
arguments) and ``@skip``/``@include``, never filters or other inputs, so it
costs a dictionary lookup per sizing argument in the common cases. A value
that does not coerce is left out: execution reports it before the field's
resolver runs, so pricing must neither fail on it nor trust it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLSkipDirective,
    InlineFragmentNode,
    IntValueNode,
    Undefined,
    VariableNode,
    coerce_input_literal,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

from cost.model import CostModel, FieldCost, default_of
from cost.plan import Shape


def coerce_variables(
    model: CostModel, shape: Shape, inputs: dict[str, Any] | None
) -> VariableValues | None:
    result = get_variable_values(
        model.schema, shape.operation.variable_definitions or (), inputs or {}, max_errors=1
    )
    return None if isinstance(result, list) else result


def is_included(
    node: FieldNode | InlineFragmentNode | FragmentSpreadNode, variables: VariableValues | None
) -> bool:
    """``@skip``/``@include`` with the request's variables (undecidable counts as included)."""
    for d in node.directives or ():
        directive = d.name.value
        if directive not in ("skip", "include"):
            continue
        definition = GraphQLSkipDirective if directive == "skip" else GraphQLIncludeDirective
        try:
            value = get_argument_values(definition, d, variables).get("if")
        except GraphQLError:
            continue
        if (directive == "skip" and value is True) or (directive == "include" and value is False):
            return False
    return True


def read_arguments(
    definition: GraphQLField,
    node: FieldNode,
    variables: VariableValues | None,
    names: Iterable[str],
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Coerced values of the arguments ``names`` of one field selection.

    Given literally, through a variable, or by the schema default (taken from
    ``defaults`` when precomputed). A value that does not coerce is left out:
    execution reports it before the field's resolver runs.
    """
    given = {a.name.value: a.value for a in node.arguments or ()}
    out: dict[str, Any] = {}
    for name in names:
        argument = definition.args.get(name)
        if argument is None:
            continue
        value_node = given.get(name)
        if isinstance(value_node, VariableNode):
            coerced = variables.coerced if variables is not None else {}
            if value_node.name.value in coerced:
                out[name] = coerced[value_node.name.value]
                continue
            value_node = None
        if value_node is None:
            value = defaults[name] if defaults and name in defaults else default_of(argument)
        elif isinstance(value_node, IntValueNode):
            value = int(value_node.value)
        else:
            value = coerce_input_literal(value_node, argument.type, variables)
        if value is not Undefined:
            out[name] = value
    return out


def field_arguments(
    fc: FieldCost, node: FieldNode, variables: VariableValues | None
) -> dict[str, Any]:
    """The values of the arguments that size ``fc`` (slicing, interval, range).

    Filters and other inputs are never read, so pricing costs a dictionary
    lookup per sizing argument in the common cases.
    """
    if fc.definition is None or not fc.sizing_arguments:
        return {}
    return read_arguments(
        fc.definition, node, variables, fc.sizing_arguments, dict(fc.sizing_defaults)
    )


def argument_cost(fc: FieldCost, node: FieldNode) -> float:
    if not fc.argument_costs:
        return 0.0
    given = {a.name.value for a in node.arguments or ()}
    return sum(w for name, w in fc.argument_costs if name in given)
