"""The domain map covers the whole schema, and documents are analysed as documented."""

from __future__ import annotations

from graphql import GraphQLInterfaceType, GraphQLObjectType, get_named_type, is_leaf_type, parse

from app.cache_domains import (
    DOMAINS,
    FIELD_DOMAINS,
    TYPE_DOMAINS,
    UNCACHEABLE_TYPES,
    analyse,
    object_types,
)
from ingest.publish import DOMAINS as INGEST_DOMAINS
from schema.build import build_schema

SCHEMA = build_schema()._schema
ROOTS = {"Query", "Mutation", "Subscription"} - set(UNCACHEABLE_TYPES)


def test_every_object_type_has_domains_or_is_uncacheable():
    missing = [
        t.name
        for t in object_types(SCHEMA)
        if t.name not in TYPE_DOMAINS and t.name not in UNCACHEABLE_TYPES and t.name not in ROOTS
    ]
    assert not missing, f"add these types to app/cache_domains.py TYPE_DOMAINS: {missing}"
    stale = sorted(set(TYPE_DOMAINS) - {t.name for t in object_types(SCHEMA)})
    assert not stale, f"types no longer in the schema: {stale}"


def test_every_leaf_field_that_loads_data_is_listed():
    """Rule 3 (a leaf reads nothing new) holds only for synchronous resolvers."""
    unlisted = []
    for t in object_types(SCHEMA):
        if not isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
            continue
        for name, field in t.fields.items():
            definition = field.extensions.get("strawberry-definition")
            resolver = getattr(definition, "base_resolver", None)
            coordinate = f"{t.name}.{name}"
            if (
                resolver is not None
                and resolver.is_async
                and is_leaf_type(get_named_type(field.type))
                and coordinate not in FIELD_DOMAINS
            ):
                unlisted.append(coordinate)
    assert not unlisted, f"add these to app/cache_domains.py FIELD_DOMAINS: {unlisted}"
    assert all(f.split(".")[0] in TYPE_DOMAINS or f.startswith("Query.") for f in FIELD_DOMAINS)


def test_the_domains_are_the_ones_ingest_announces():
    assert set(INGEST_DOMAINS) | {"onchain"} == set(DOMAINS)


def facts(text: str, name: str | None = None):
    return analyse(SCHEMA, parse(text), name)


def test_domains_follow_the_selection():
    assert facts('{ asset(id: "x") { symbol name } }').domains == {"assets"}
    assert facts('{ asset(id: "x") { price { value } } }').domains == {"assets", "quotes"}
    assert facts('{ asset(id: "x") { candles(interval: "1h") { close } } }').domains == {
        "assets",
        "candles",
    }
    assert facts('{ asset(id: "x") { grade { value } } }').domains == {
        "assets",
        "signals",
        "onchain",
    }
    # fragments, inline fragments and the Node interface are followed
    text = """query Q($id: ID!) { node(id: $id) { ...N ... on Chain { gas { baseFee } } } }
              fragment N on Asset { market { marketCap } }"""
    assert facts(text).domains == {"assets", "onchain", "quotes"}
    assert facts("{ costModel { maxOperationCost } }").domains == frozenset()
    assert facts("{ __typename }").domains == frozenset()


def test_what_makes_a_document_uncacheable():
    assert facts("{ rateLimit { remaining } }").uncacheable is not None
    assert not facts("{ rateLimit { remaining } }").cacheable
    assert not facts('subscription { prices(assets: ["x"]) { seq } }').cacheable
    two = "query A { __typename } query B { __typename }"
    assert not facts(two).cacheable  # which one? the request must say
    assert facts(two, "B").cacheable and facts(two, "B").operation_name == "B"


def test_live_and_pinned_documents():
    live = facts('{ asset(id: "x") { symbol } }')
    assert live.is_live(None)
    pinned = facts('{ asset(id: "x", asOf: "2026-01-01T00:00:00Z") { symbol } }')
    assert not pinned.is_live(None)
    by_variable = facts("query Q($at: DateTime) { assets(asOf: $at) { nodes { symbol } } }")
    assert by_variable.is_live({}) and by_variable.is_live({"at": None})
    assert not by_variable.is_live({"at": "2026-01-01T00:00:00Z"})
    mixed = facts(
        '{ a: asset(id: "x", asOf: "2026-01-01T00:00:00Z") { symbol } b: chains { slug } }'
    )
    assert mixed.is_live(None)
    assert facts("query Q($id: ID!) { node(id: $id) { id } }").is_live({"id": "x"})
    assert not facts("{ costModel { maxOperationCost } __typename }").is_live(None)


def test_the_digest_ignores_formatting():
    a = facts('{ asset(id: "x") { symbol } }')
    b = facts('# comment\n{\n  asset( id : "x" ) {\n    symbol\n  }\n}\n')
    assert a.digest == b.digest
    assert a.digest != facts('{ asset(id: "y") { symbol } }').digest
