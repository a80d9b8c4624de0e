"""The cost model: the weights the schema declares, read back once per schema.

The schema is the single source of truth for prices. Fields and types carry
IBM cost-spec directives (``@cost(weight:)``, ``@listSize(...)``, see
:mod:`cost.directives`); this module turns them into plain lookup tables so the
analyser never touches strawberry objects on the hot path.

Defaults follow the IBM spec and Apollo/Shopify: a scalar or enum weighs 0, an
object, interface or union weighs 1. A field's own ``@cost`` overrides the
weight of the type it returns; a type's ``@cost`` overrides the default for
every field returning it.

Time series are recognised by their arguments (a list field with an
``interval`` argument and ``from``/``to`` range arguments): they are priced by
the number of points the range holds, Santiment-style, rather than by an
assumed size, because the range is what decides how many rows come back. The
convention is one place (:class:`TimeSeriesConvention`) so a schema that names
its arguments differently can say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
)
from graphql.pyutils import Undefined
from graphql.utilities.coerce_input_value import coerce_default_value
from strawberry import UNSET

from cost.directives import Cost, ListSize

#: graphql-core ``extensions`` key under which strawberry keeps its definitions.
STRAWBERRY_DEFINITION = "strawberry-definition"

COMPOSITE_DEFAULT_WEIGHT = 1.0
LEAF_DEFAULT_WEIGHT = 0.0


@dataclass(frozen=True, slots=True)
class TimeSeriesConvention:
    """Argument names that mark a list field as a time series."""

    interval: str = "interval"
    range_from: str = "from"
    range_to: str = "to"


@dataclass(frozen=True, slots=True)
class ListSizeSpec:
    """``@listSize`` as plain data (IBM semantics)."""

    assumed_size: int | None = None
    slicing_arguments: tuple[str, ...] = ()
    sized_fields: tuple[str, ...] = ()
    require_one_slicing_argument: bool = True


@dataclass(frozen=True, slots=True)
class TimeSeriesSpec:
    interval_argument: str
    from_argument: str | None
    to_argument: str | None


@dataclass(frozen=True, slots=True)
class FieldCost:
    """Everything the analyser needs to price one field of one type."""

    parent: str
    name: str
    #: weight of one returned item (``@cost`` on the field, else on the type, else default)
    weight: float
    #: ``@cost`` written on the field itself, if any
    declared_weight: float | None
    is_list: bool
    is_leaf: bool
    is_abstract: bool
    #: named return type
    returns: str
    list_size: ListSizeSpec | None = None
    time_series: TimeSeriesSpec | None = None
    #: argument name -> weight added when the argument is given (``@cost`` on an argument)
    argument_costs: tuple[tuple[str, float], ...] = ()
    #: the graphql-core field, to coerce argument values with
    definition: GraphQLField | None = field(default=None, compare=False, repr=False)
    #: arguments that decide the size (slicing, interval, range) and their schema defaults
    sizing_arguments: tuple[str, ...] = ()
    sizing_defaults: tuple[tuple[str, Any], ...] = field(default=(), compare=False, repr=False)

    #: sizes its children (``sizedFields``) rather than itself: a Relay connection
    is_connection: bool = False

    @property
    def needs_arguments(self) -> bool:
        """Whether pricing must read the field's argument values."""
        return bool(self.sizing_arguments)


@dataclass(slots=True)
class CostModel:
    """Lookup tables of a schema's declared costs."""

    schema: GraphQLSchema
    fields: dict[tuple[str, str], FieldCost] = field(default_factory=dict)
    type_weights: dict[str, float] = field(default_factory=dict)
    #: abstract type name -> names of its concrete object types
    possible_types: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def field_cost(self, parent: str, name: str) -> FieldCost | None:
        return self.fields.get((parent, name))

    def type_weight(self, type_name: str) -> float:
        return self.type_weights.get(type_name, COMPOSITE_DEFAULT_WEIGHT)

    def concrete_types(self, type_name: str) -> tuple[str, ...]:
        """The object types a value of ``type_name`` can have at run time."""
        return self.possible_types.get(type_name, (type_name,))

    def undeclared_list_fields(self) -> list[str]:
        """``Type.field`` names of list or connection fields without a cost declaration.

        Lists of scalars and enums are exempt: they weigh 0 per item whatever
        their length. A list field that a connection sizes through
        ``sizedFields`` (``edges``, ``nodes``) is declared by that connection,
        so it counts as declared when every field returning its type sizes it.
        """
        sized_by: dict[str, set[str]] = {}
        for fc in self.fields.values():
            if fc.is_leaf:
                continue
            names = set(fc.list_size.sized_fields) if fc.list_size else set()
            known = sized_by.get(fc.returns)
            sized_by[fc.returns] = names if known is None else known & names
        missing: list[str] = []
        for fc in self.fields.values():
            if fc.parent.startswith("__") or fc.is_leaf:
                continue
            if not isinstance(self.schema.get_type(fc.parent), GraphQLObjectType):
                continue
            declared = fc.list_size is not None or fc.declared_weight is not None
            if fc.is_list and not declared:
                if fc.name not in sized_by.get(fc.parent, set()):
                    missing.append(f"{fc.parent}.{fc.name}")
            elif looks_like_connection(self.schema.get_type(fc.returns)) and not (
                fc.list_size and fc.list_size.sized_fields
            ):
                missing.append(f"{fc.parent}.{fc.name}")
        return sorted(missing)

    def describe(self) -> Iterator[FieldCost]:
        """Every field with a non-default price, for the published cost model."""
        for key in sorted(self.fields):
            fc = self.fields[key]
            if fc.parent.startswith("__"):
                continue
            if (
                fc.declared_weight is not None
                or fc.list_size is not None
                or fc.time_series is not None
                or fc.argument_costs
            ):
                yield fc


def looks_like_connection(t: GraphQLNamedType | None) -> bool:
    """A Relay-style connection type: has ``edges`` or ``pageInfo`` and ends in Connection."""
    if not isinstance(t, GraphQLObjectType):
        return False
    return t.name.endswith("Connection") and ("edges" in t.fields or "pageInfo" in t.fields)


def _directives(graphql_obj: Any) -> list[object]:
    extensions = getattr(graphql_obj, "extensions", None) or {}
    definition = extensions.get(STRAWBERRY_DEFINITION)
    if definition is None:
        return []
    return list(getattr(definition, "directives", None) or ())


def _cost_of(directives: list[object]) -> float | None:
    for d in directives:
        if isinstance(d, Cost):
            return float(d.weight)
    return None


def _given(value: Any) -> Any:
    """A directive argument's value, ``None`` when it was left out (``UNSET``)."""
    return None if value is UNSET else value


def _list_size_of(directives: list[object]) -> ListSizeSpec | None:
    for d in directives:
        if isinstance(d, ListSize):
            return ListSizeSpec(
                assumed_size=_given(d.assumed_size),
                slicing_arguments=tuple(_given(d.slicing_arguments) or ()),
                sized_fields=tuple(_given(d.sized_fields) or ()),
                require_one_slicing_argument=_given(d.require_one_slicing_argument) is not False,
            )
    return None


def _is_list(t: GraphQLOutputType) -> bool:
    if isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)


def _time_series(
    gfield: GraphQLField, is_list: bool, convention: TimeSeriesConvention
) -> TimeSeriesSpec | None:
    if not is_list or convention.interval not in gfield.args:
        return None
    has_from = convention.range_from in gfield.args
    has_to = convention.range_to in gfield.args
    if not (has_from or has_to):
        return None
    return TimeSeriesSpec(
        interval_argument=convention.interval,
        from_argument=convention.range_from if has_from else None,
        to_argument=convention.range_to if has_to else None,
    )


def default_of(argument: GraphQLArgument) -> Any:
    """An argument's schema default as a coerced value (``Undefined`` when it has none)."""
    try:
        return coerce_default_value(argument)
    except (TypeError, GraphQLError):
        return Undefined


def _sizing_arguments(
    gfield: GraphQLField, list_size: ListSizeSpec | None, time_series: TimeSeriesSpec | None
) -> tuple[str, ...]:
    names: list[str] = []
    if list_size:
        names.extend(list_size.slicing_arguments)
    if time_series:
        names.append(time_series.interval_argument)
        names.extend(n for n in (time_series.from_argument, time_series.to_argument) if n)
    return tuple(n for n in dict.fromkeys(names) if n in gfield.args)


def build_model(schema: GraphQLSchema, convention: TimeSeriesConvention | None = None) -> CostModel:
    """Read every declaration of ``schema`` into a :class:`CostModel`."""
    convention = convention or TimeSeriesConvention()
    model = CostModel(schema=schema)
    for name, t in schema.type_map.items():
        declared = _cost_of(_directives(t))
        if is_leaf_type(t):
            model.type_weights[name] = LEAF_DEFAULT_WEIGHT if declared is None else declared
        else:
            model.type_weights[name] = COMPOSITE_DEFAULT_WEIGHT if declared is None else declared
        if isinstance(t, GraphQLInterfaceType | GraphQLUnionType):
            model.possible_types[name] = tuple(p.name for p in schema.get_possible_types(t))
    for name, t in schema.type_map.items():
        if not isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
            continue
        for fname, gfield in t.fields.items():
            directives = _directives(gfield)
            declared = _cost_of(directives)
            named = get_named_type(gfield.type)
            leaf = is_leaf_type(named)
            is_list = _is_list(gfield.type)
            arg_costs = tuple(
                (aname, w)
                for aname, arg in gfield.args.items()
                if (w := _cost_of(_directives(arg))) is not None
            )
            list_size = _list_size_of(directives)
            time_series = _time_series(gfield, is_list, convention)
            sizing = _sizing_arguments(gfield, list_size, time_series)
            model.fields[(name, fname)] = FieldCost(
                parent=name,
                name=fname,
                weight=declared if declared is not None else model.type_weights[named.name],
                declared_weight=declared,
                is_list=is_list,
                is_leaf=leaf,
                is_abstract=is_abstract_type(named),
                returns=named.name,
                list_size=list_size,
                time_series=time_series,
                argument_costs=arg_costs,
                definition=gfield,
                sizing_arguments=sizing,
                sizing_defaults=tuple((a, default_of(gfield.args[a])) for a in sizing),
                is_connection=bool(list_size and list_size.sized_fields),
            )
    return model


_MODEL_ATTRIBUTE = "_cryptoql_cost_model"


def model_for(schema: GraphQLSchema) -> CostModel:
    """The cost model of a schema, built on first use and kept on the schema object.

    Kept as an attribute rather than in a module-level weak mapping: the model
    refers back to the schema, which would keep every schema ever priced alive.
    """
    model = getattr(schema, _MODEL_ATTRIBUTE, None)
    if not isinstance(model, CostModel):
        model = build_model(schema)
        setattr(schema, _MODEL_ATTRIBUTE, model)
    return model
