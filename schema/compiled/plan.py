"""Execution plans: a validated operation compiled once against the schema.

A plan is a tree of :class:`ObjectPlan` (one per selection set and concrete
type) whose :class:`FieldPlan` entries say, for each response key, how to get
the value (read an attribute, call the strawberry resolver, ``__typename``)
and how to complete it (a leaf serialiser, a nested plan, a list of either).
Everything that graphql-core works out per field and per object at run time
(field lookup, fragment collection, directive evaluation, argument coercion of
literals, resolver signature inspection) is done here once per document.

Documents using something the plan does not model raise :class:`Unsupported`
and run on the reference executor instead (counted in metrics): abstract
types, introspection, ``@skip``/``@include`` with variables, ``@defer``/
``@stream``, field extensions (permissions), resolvers without a strawberry
definition, fragment arguments.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    SelectionSetNode,
    VariableNode,
    is_abstract_type,
)
from graphql.language import ArgumentNode, BooleanValueNode, DirectiveNode, ValueNode
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from schema.compiled.batch import bare_of, batch_of, reads_of, reads_via
from schema.compiled.fast import compile_list, compile_object, compile_resolve

DEFINITION_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF


class Unsupported(Exception):
    """The document uses something plans do not model; use the reference executor."""


# Completer kinds
LEAF, OBJECT, LIST = 0, 1, 2
# Leaf fast paths: values of these Python types pass through unchanged.
LEAF_STR, LEAF_INT, LEAF_FLOAT, LEAF_BOOL, LEAF_OTHER = 0, 1, 2, 3, 4
# Field kinds
ATTR, RESOLVER, TYPENAME = 0, 1, 2


@dataclass(slots=True)
class Completer:
    kind: int
    nullable: bool
    serialize: Callable[[Any], Any] | None = None
    leaf_kind: int = LEAF_OTHER
    type_name: str = ""
    plan: ObjectPlan | None = None
    item: Completer | None = None
    #: generated completion of a whole object or list value (schema.compiled.fast), when pure
    fast: Callable[[Any], Any] | None = None
    #: an enum's serialisations by ``id`` of the value (:func:`_memo_serialize`), read
    #: inline by generated code before it calls ``serialize``
    memo: dict[int, Any] | None = None
    #: a DateTime's isoformat memo (:func:`_memo_isoformat`), read inline likewise
    iso_memo: dict[tuple[datetime, Any], str] | None = None


@dataclass(slots=True)
class FieldPlan:
    key: str
    name: str
    kind: int
    completer: Completer
    field_nodes: list[FieldNode]
    parent_type: GraphQLObjectType
    graphql_field: GraphQLField | None = None
    strawberry_field: StrawberryField | None = None
    attr: str = ""
    #: ATTR: reads ``attr`` (a dotted path for a resolver declared with ``reads``)
    read: Callable[[Any], Any] | None = None
    #: ATTR: the declared read's conversion of the value at ``attr`` (``read`` applies it)
    via: Callable[[Any], Any] | None = None
    func: Callable[..., Any] | None = None
    pass_self: bool = False
    info_name: str | None = None
    source_names: tuple[str, ...] = ()
    is_async: bool = False
    #: the field's list-level resolver (schema.compiled.batch), when it declares one
    batch: Callable[..., Any] | None = None
    #: converted keyword arguments when they contain no variables (built once)
    static_kwargs: dict[str, Any] | None = None
    #: raw argument nodes that reference variables (kwargs built per request)
    needs_variables: bool = False


@dataclass(slots=True)
class ObjectPlan:
    type_name: str
    fields: list[FieldPlan] = field(default_factory=list)
    keys: tuple[str, ...] = ()
    #: generated straight-line completion (schema.compiled.fast), when pure
    fast: Callable[[Any], dict[str, Any]] | None = None
    #: generated field loop for nodes of this plan (schema.compiled.fast)
    resolve: Callable[[Any, Any, list[Any]], None] | None = None


@dataclass(slots=True)
class OperationPlan:
    root: ObjectPlan
    #: field plans whose arguments depend on variables (kwargs built per request)
    variable_fields: list[FieldPlan]
    #: converted kwargs of the variable fields, by frozen variable values (bounded)
    kwargs_memo: dict[Any, dict[int, dict[str, Any]]] = field(default_factory=dict)


def _leaf_kind(t: GraphQLScalarType | GraphQLEnumType) -> int:
    if t is GraphQLString or t is GraphQLID:
        return LEAF_STR  # ID serialises a str as itself, like String
    if t is GraphQLInt:
        return LEAF_INT
    if t is GraphQLFloat:
        return LEAF_FLOAT
    if t is GraphQLBoolean:
        return LEAF_BOOL
    return LEAF_OTHER


class PlanBuilder:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        convert_static: Callable[[FieldPlan, dict[str, Any]], dict[str, Any]],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.convert_static = convert_static
        self.variable_fields: list[FieldPlan] = []

    # -- selection collection ------------------------------------------------
    def _included(self, directives: tuple[DirectiveNode, ...] | None) -> bool:
        for d in directives or ():
            name = d.name.value
            if name not in ("skip", "include"):
                raise Unsupported(f"directive @{name}")
            arg: ArgumentNode | None = next(
                (a for a in d.arguments or () if a.name.value == "if"), None
            )
            if arg is None or not isinstance(arg.value, BooleanValueNode):
                raise Unsupported(f"@{name} with a variable")
            value = arg.value.value
            if (name == "skip" and value) or (name == "include" and not value):
                return False
        return True

    def _applies(self, type_condition: str | None, obj: GraphQLObjectType) -> bool:
        if type_condition is None or type_condition == obj.name:
            return True
        cond = self.schema.get_type(type_condition)
        if cond is None:
            return False
        if is_abstract_type(cond):
            return self.schema.is_sub_type(cond, obj)
        return False

    def collect(
        self,
        obj: GraphQLObjectType,
        selection_sets: list[SelectionSetNode],
        out: dict[str, list[FieldNode]] | None = None,
        seen: set[str] | None = None,
    ) -> dict[str, list[FieldNode]]:
        out = {} if out is None else out
        seen = set() if seen is None else seen
        for sel_set in selection_sets:
            for sel in sel_set.selections:
                if isinstance(sel, FieldNode):
                    if not self._included(sel.directives):
                        continue
                    key = sel.alias.value if sel.alias else sel.name.value
                    out.setdefault(key, []).append(sel)
                elif isinstance(sel, InlineFragmentNode):
                    if not self._included(sel.directives):
                        continue
                    cond = sel.type_condition.name.value if sel.type_condition else None
                    if self._applies(cond, obj):
                        self.collect(obj, [sel.selection_set], out, seen)
                elif isinstance(sel, FragmentSpreadNode):
                    if sel.arguments:
                        raise Unsupported("fragment arguments")
                    if not self._included(sel.directives):
                        continue
                    name = sel.name.value
                    if name in seen:
                        continue
                    frag = self.fragments.get(name)
                    if frag is None:
                        raise Unsupported(f"unknown fragment {name}")
                    if frag.variable_definitions:
                        raise Unsupported("fragment variables")
                    if self._applies(frag.type_condition.name.value, obj):
                        seen.add(name)
                        self.collect(obj, [frag.selection_set], out, seen)
        return out

    # -- plans ---------------------------------------------------------------
    def object_plan(
        self,
        obj: GraphQLObjectType,
        selection_sets: list[SelectionSetNode],
        strip: str | None = None,
    ) -> ObjectPlan:
        """``strip``: the sources are the records of views over ``strip`` (see
        :func:`_bare`): declared reads of ``<strip>.<path>`` read ``<path>``."""
        grouped = self.collect(obj, selection_sets)
        plan = ObjectPlan(type_name=obj.name)
        for key, nodes in grouped.items():
            plan.fields.append(self.field_plan(obj, key, nodes, strip))
        plan.keys = tuple(f.key for f in plan.fields)
        plan.fast = compile_object(plan)
        plan.resolve = compile_resolve(plan)
        return plan

    def field_plan(
        self,
        obj: GraphQLObjectType,
        key: str,
        nodes: list[FieldNode],
        strip: str | None = None,
    ) -> FieldPlan:
        name = nodes[0].name.value
        if name == "__typename":
            return FieldPlan(
                key=key,
                name=name,
                kind=TYPENAME,
                completer=Completer(LEAF, nullable=False, leaf_kind=LEAF_STR),
                field_nodes=nodes,
                parent_type=obj,
            )
        if name.startswith("__"):
            raise Unsupported("introspection")
        gql_field = obj.fields.get(name)
        if gql_field is None:
            raise Unsupported(f"unknown field {obj.name}.{name}")
        sb_field = (gql_field.extensions or {}).get(DEFINITION_BACKREF)
        if not isinstance(sb_field, StrawberryField):
            raise Unsupported(f"{obj.name}.{name} has no strawberry definition")
        if sb_field.extensions:
            raise Unsupported(f"{obj.name}.{name} has field extensions")
        sub_sets = [n.selection_set for n in nodes if n.selection_set is not None]
        fp = FieldPlan(
            key=key,
            name=name,
            kind=ATTR,
            completer=self.completer(gql_field.type, sub_sets),
            field_nodes=nodes,
            parent_type=obj,
            graphql_field=gql_field,
            strawberry_field=sb_field,
        )
        resolver = sb_field.base_resolver
        if strip is not None and (resolver is None or reads_of(resolver.wrapped_func) is None):
            raise AssertionError(f"{obj.name}.{name} is not a read of {strip}")  # see _bare
        if resolver is None:
            fp.attr = sb_field.python_name
            fp.read = operator.attrgetter(fp.attr)
            return fp
        func = resolver.wrapped_func
        if not callable(func):
            raise Unsupported(f"{obj.name}.{name} resolver is an unbound descriptor")
        path = reads_of(func)
        if (
            path is not None
            and resolver.self_parameter is not None
            and len(resolver.signature.parameters) == 1  # self and nothing else
            and not resolver.is_async
        ):
            # declared a plain read of self.<path> (schema.compiled.batch.reads)
            if strip is not None:
                if not path.startswith(strip + "."):
                    raise AssertionError(f"{obj.name}.{name} is not a read of {strip}")
                path = path[len(strip) + 1 :]  # the source is the record itself
            fp.attr = path
            fp.via = reads_via(func)
            getter = operator.attrgetter(path)
            fp.read = getter if fp.via is None else _converted(fp.via, getter)
            return fp
        fp.kind = RESOLVER
        fp.func = func
        fp.pass_self = resolver.self_parameter is not None
        info_param = resolver.info_parameter
        fp.info_name = info_param.name if info_param is not None else None
        fp.source_names = tuple(
            p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p is not None
        )
        fp.is_async = resolver.is_async
        fp.batch = batch_of(func)
        bare = bare_of(func) if fp.batch is not None else None
        if bare is not None and _bare(fp.completer, bare[1]):
            # every selected field of the views reads their record: no views needed
            fp.batch = bare[0]
            fp.completer = self.completer(gql_field.type, sub_sets, strip=bare[1])
        if _uses_variables(nodes[0].arguments):
            fp.needs_variables = True
            self.variable_fields.append(fp)
        else:
            fp.static_kwargs = self.convert_static(fp, {})
        return fp

    def completer(
        self, t: GraphQLOutputType, sub_sets: list[SelectionSetNode], strip: str | None = None
    ) -> Completer:
        nullable = True
        if isinstance(t, GraphQLNonNull):
            nullable = False
            t = t.of_type
        if isinstance(t, GraphQLList):
            lc = Completer(LIST, nullable, item=self.completer(t.of_type, sub_sets, strip))
            lc.fast = compile_list(lc)
            return lc
        if isinstance(t, GraphQLEnumType):
            serialize_enum, memo = _memo_serialize(t)
            return Completer(
                LEAF,
                nullable,
                serialize=serialize_enum,
                leaf_kind=LEAF_OTHER,
                type_name=t.name,
                memo=memo,
            )
        if isinstance(t, GraphQLScalarType):
            serialize: Callable[[Any], Any] = t.serialize
            iso_memo = None
            if isinstance(serialize, operator.methodcaller) and repr(serialize) == _ISOFORMAT:
                serialize, iso_memo = _memo_isoformat(serialize)
            return Completer(
                LEAF,
                nullable,
                serialize=serialize,
                leaf_kind=_leaf_kind(t),
                type_name=t.name,
                iso_memo=iso_memo,
            )
        if isinstance(t, GraphQLObjectType):
            plan = self.object_plan(t, sub_sets, strip)
            return Completer(OBJECT, nullable, type_name=t.name, plan=plan, fast=plan.fast)
        raise Unsupported(f"abstract type {getattr(t, 'name', t)}")


def _bare(c: Completer, view: str) -> bool:
    """Whether the objects ``c`` completes (through lists) select only ``__typename``
    and declared reads under ``view``: then their views' records can stand in for
    them (:func:`schema.compiled.batch.batched`'s ``bare``)."""
    while c.kind == LIST and c.item is not None:
        c = c.item
    if c.kind != OBJECT or c.plan is None:
        return False
    prefix = view + "."
    return all(
        fp.kind == TYPENAME
        or (
            fp.kind == ATTR
            and fp.strawberry_field is not None
            and fp.strawberry_field.base_resolver is not None
            and fp.attr.startswith(prefix)
        )
        for fp in c.plan.fields
    )


def _converted(via: Callable[[Any], Any], getter: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def read(source: Any) -> Any:
        return via(getter(source))

    return read


_ISOFORMAT = repr(operator.methodcaller("isoformat"))
_ISO_MEMO_SIZE = 4096


def _memo_isoformat(
    serialize: Callable[[Any], Any],
) -> tuple[Callable[[Any], Any], dict[tuple[datetime, Any], str]]:
    """``isoformat`` memoised per (datetime, tzinfo), for one plan's field: the
    serialiser and its memo (which generated code reads inline for plain datetimes).

    Timestamps repeat within a response (every asset's hourly sparkline has the
    same bucket times) and ``isoformat`` costs about a microsecond. Equal
    datetimes in different zones print differently, so the zone is part of the
    key; anything but a plain ``datetime`` is serialised without the memo.
    """
    memo: dict[tuple[datetime, Any], str] = {}

    def cached(value: Any) -> Any:
        if type(value) is not datetime:
            return serialize(value)
        key = (value, value.tzinfo)
        found = memo.get(key)
        if found is None:
            if len(memo) >= _ISO_MEMO_SIZE:
                memo.clear()
            found = memo[key] = value.isoformat()
        return found

    return cached, memo


def _memo_serialize(t: GraphQLEnumType) -> tuple[Callable[[Any], Any], dict[int, Any]]:
    """Enum serialisation memoised per value object (an enum has few values): the
    serialiser and its memo, ``id(value)`` -> serialisation.

    Keyed by identity: Python ``Enum`` members hash through a Python-level
    ``__hash__``, an ``id`` hashes in C. Every value whose id is in the memo is kept
    alive beside it (``seen``), so an id in the memo always names the object it was
    stored for; the two are cleared together. Bounded: values that are not members
    (strings, numbers) could be many. Only non-empty serialisations are stored, so
    generated code may read ``memo.get(id(v)) or serialize(v)``.
    """
    memo: dict[int, Any] = {}
    seen: dict[int, Any] = {}
    serialize = t.serialize

    def cached(value: Any) -> Any:
        found = memo.get(id(value))
        if found is not None:
            return found
        result = serialize(value)
        if result:
            if len(memo) >= _ENUM_MEMO_SIZE:
                memo.clear()
                seen.clear()
            seen[id(value)] = value
            memo[id(value)] = result
        return result

    return cached, memo


_ENUM_MEMO_SIZE = 256


def _uses_variables(args: tuple[ArgumentNode, ...] | None) -> bool:
    def walk(v: ValueNode) -> bool:
        if isinstance(v, VariableNode):
            return True
        for attr in ("values", "fields"):
            for child in getattr(v, attr, None) or ():
                inner = getattr(child, "value", child)
                if walk(inner):
                    return True
        return False

    return any(walk(a.value) for a in args or ())
