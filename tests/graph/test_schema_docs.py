"""Every type, field, argument and enum value of the graph carries a description
(they are GraphiQL's documentation), and every list field declares its size."""

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLObjectType,
    get_named_type,
)

from schema.build import build_schema

GRAPH_ROOTS = ("asset", "assets", "chains", "chain", "node")


def graph_types(schema):
    """Named types reachable from the graph's root fields (other areas are checked by
    their owners)."""
    seen, todo = {}, []
    query = schema.query_type
    for name in GRAPH_ROOTS:
        field = query.fields[name]
        todo.append(get_named_type(field.type))
        todo.extend(get_named_type(a.type) for a in field.args.values())
    while todo:
        t = todo.pop()
        if t.name in seen or t.name.startswith("__"):
            continue
        seen[t.name] = t
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
            for f in t.fields.values():
                todo.append(get_named_type(f.type))
                todo.extend(get_named_type(a.type) for a in f.args.values())
            todo.extend(getattr(t, "interfaces", ()))
        elif isinstance(t, GraphQLInputObjectType):
            todo.extend(get_named_type(f.type) for f in t.fields.values())
    if "Node" in seen:
        seen.update({t.name: t for t in schema.get_implementations(seen["Node"]).objects})
    return seen


def test_every_graph_type_field_and_argument_is_described():
    schema = build_schema()._schema
    missing = []
    for name, t in sorted(graph_types(schema).items()):
        if name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not t.description:
            missing.append(name)
        if isinstance(t, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, d in t.values.items() if not d.description]
        fields = getattr(t, "fields", {}) or {}
        for fname, f in fields.items():
            if not f.description:
                missing.append(f"{name}.{fname}")
            for aname, a in getattr(f, "args", {}).items():
                if not a.description:
                    missing.append(f"{name}.{fname}({aname})")
    for fname, f in schema.query_type.fields.items():
        if fname in GRAPH_ROOTS:
            missing += [f"Query.{fname}({a})" for a, v in f.args.items() if not v.description]
    assert not missing, missing


def test_every_graph_list_field_declares_its_size():
    schema = build_schema()
    graphql_schema = schema._schema
    undeclared = []
    types = graph_types(graphql_schema)
    types["Query"] = graphql_schema.query_type
    for name, t in types.items():
        if not isinstance(t, GraphQLObjectType):
            continue
        definition = t.extensions.get("strawberry-definition")
        for fname, f in t.fields.items():
            if name == "Query" and fname not in GRAPH_ROOTS:
                continue
            inner = f.type.of_type if hasattr(f.type, "of_type") else f.type
            is_list = isinstance(f.type, GraphQLList) or isinstance(inner, GraphQLList)
            if not (is_list or fname in ("assets", "blocks")):
                continue
            sf = next(
                x
                for x in definition.fields
                if (
                    x.graphql_name
                    or schema.config.name_converter.apply_naming_config(x.python_name)
                )
                == fname
            )
            names = {type(d).__name__ for d in sf.directives}
            connection_child = name.endswith("Connection") and fname in ("edges", "nodes")
            if not names & {"ListSize", "Cost"} and not connection_child:
                undeclared.append(f"{name}.{fname}")
    assert not undeclared, undeclared
