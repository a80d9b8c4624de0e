"""Depth, alias, directive and token limits at their exact boundaries; introspection policy."""

from __future__ import annotations

import pytest

from app.introspection import introspection_policy
from app.settings import Settings
from resolvers.principal import Principal
from tests.server.toy_schema import CALLS, deep, toy_schema

LIMITS = Settings()
SCHEMA = toy_schema()


async def run(query: str, schema=SCHEMA):
    CALLS.clear()
    return await schema.execute(query)


def codes(result) -> list[str]:
    return [e.extensions["code"] for e in result.errors or ()]


async def test_depth_at_the_limit_passes_and_one_more_is_rejected_before_execution():
    ok = await run(deep(LIMITS.max_depth))
    assert ok.errors is None
    assert CALLS["child"] == LIMITS.max_depth - 2

    over = await run(deep(LIMITS.max_depth + 1))
    assert codes(over) == ["DEPTH_LIMIT_EXCEEDED"]
    assert over.data is None
    assert sum(CALLS.values()) == 0
    error = over.errors[0]
    assert error.extensions["depth"] == LIMITS.max_depth + 1
    assert f"maximum is {LIMITS.max_depth}" in error.message


async def test_depth_is_measured_through_fragments():
    chain = "child { " * (LIMITS.max_depth - 2) + "name" + " }" * (LIMITS.max_depth - 2)
    query = f"{{ node {{ ...F }} }} fragment F on Node {{ ... on Node {{ {chain} }} }}"
    assert (await run(query)).errors is None
    query = f"{{ node {{ child {{ ...F }} }} }} fragment F on Node {{ {chain} }}"
    assert codes(await run(query)) == ["DEPTH_LIMIT_EXCEEDED"]


async def test_alias_limit_boundary_and_fragments_count_per_spread():
    fields = " ".join(f"a{i}: name" for i in range(LIMITS.max_aliases))
    assert (await run(f"{{ node {{ {fields} }} }}")).errors is None
    fields += " extra: name"
    assert codes(await run(f"{{ node {{ {fields} }} }}")) == ["ALIAS_LIMIT_EXCEEDED"]
    assert sum(CALLS.values()) == 0

    # 8 aliases in a fragment spread 4 times = 32 aliased fields at execution
    frag = "fragment F on Node { " + " ".join(f"f{i}: name" for i in range(8)) + " }"
    query = "{ node { c1: child { ...F } c2: child { ...F } c3: child { ...F } ...F } }" + frag
    result = await run(query)
    assert codes(result) == ["ALIAS_LIMIT_EXCEEDED"]
    assert result.errors[0].extensions["aliases"] == 8 * 4 + 3


async def test_directive_limit_boundary():
    field = "name @include(if: true)"
    assert (
        await run(f"{{ node {{ {' '.join([field] * LIMITS.max_directives)} }} }}")
    ).errors is None
    result = await run(f"{{ node {{ {' '.join([field] * (LIMITS.max_directives + 1))} }} }}")
    assert codes(result) == ["DIRECTIVE_LIMIT_EXCEEDED"]


async def test_selection_width_boundary_counts_merged_fragments():
    n = LIMITS.max_selections
    assert (await run("{ node { " + "name " * n + "} }")).errors is None
    result = await run("{ node { " + "name " * (n + 1) + "} }")
    assert codes(result) == ["SELECTION_LIMIT_EXCEEDED"]
    half = n // 2 + 1
    query = (
        "{ node { ...A ... on Node { ...B } } } "
        f"fragment A on Node {{ {'name ' * half} }} fragment B on Node {{ {'name ' * half} }}"
    )
    assert codes(await run(query)) == ["SELECTION_LIMIT_EXCEEDED"]


async def test_fragment_count_boundary():
    def doc(n: int) -> str:
        spreads = " ".join(f"...F{i}" for i in range(n))
        frags = " ".join(f"fragment F{i} on Node {{ name }}" for i in range(n))
        return f"{{ node {{ {spreads} }} }} {frags}"

    assert (await run(doc(LIMITS.max_fragments))).errors is None
    assert codes(await run(doc(LIMITS.max_fragments + 1))) == ["FRAGMENT_LIMIT_EXCEEDED"]


async def test_variable_count_boundary():
    def doc(n: int) -> str:
        decls = ", ".join(f"$v{i}: Boolean = true" for i in range(n))
        uses = " ".join(f"n{i}: name @include(if: $v{i})" for i in range(n))
        return f"query ({decls}) {{ node {{ {uses} }} }}"

    big = toy_schema(max_aliases=100)
    assert (await run(doc(LIMITS.max_variables), big)).errors is None
    assert codes(await run(doc(LIMITS.max_variables + 1), big)) == ["VARIABLE_LIMIT_EXCEEDED"]


async def test_token_limit_boundary_counts_comments_too():
    base = "{ node { name } }"  # 6 tokens
    at_limit = "#c\n" * (LIMITS.max_tokens - 6) + base
    assert (await run(at_limit)).errors is None
    over = "#c\n" * (LIMITS.max_tokens - 5) + base
    result = await run(over)
    assert codes(result) == ["TOKEN_LIMIT_EXCEEDED"]
    assert sum(CALLS.values()) == 0


async def test_field_duplication_bomb_stops_at_the_token_limit():
    result = await run("{ node { " + "name " * 2500 + "} }")
    assert codes(result) == ["TOKEN_LIMIT_EXCEEDED"]


async def test_circular_fragments_are_a_validation_error_not_a_crash():
    query = (
        "{ node { ...A } } fragment A on Node { child { ...B } } "
        "fragment B on Node { child { ...A } }"
    )
    result = await run(query)
    assert "GRAPHQL_VALIDATION_FAILED" in codes(result)
    assert "INTERNAL_SERVER_ERROR" not in codes(result)


async def test_long_fragment_chain_is_rejected_without_internal_errors():
    n = 600
    frags = " ".join(f"fragment F{i} on Node {{ ...F{i + 1} }}" for i in range(n))
    query = f"{{ node {{ ...F0 }} }} {frags} fragment F{n} on Node {{ name }}"
    result = await run(query)
    assert result.errors, "a 600-fragment chain should not pass quietly"
    assert "INTERNAL_SERVER_ERROR" not in codes(result)


async def test_parser_recursion_bomb_is_a_parse_error():
    result = await run("{node" + "{child" * 1500)
    assert codes(result) in (["GRAPHQL_PARSE_FAILED"], ["TOKEN_LIMIT_EXCEEDED"])


async def test_document_length_boundary():
    base = "{ node { name } }"
    assert (await run(base + " " * (LIMITS.max_document_chars - len(base)))).errors is None
    result = await run(base + " " * (LIMITS.max_document_chars - len(base) + 1))
    assert codes(result) == ["DOCUMENT_TOO_LARGE"]
    assert sum(CALLS.values()) == 0


async def test_introspection_switch():
    query = "{ __schema { queryType { name } } __typename }"
    on = await run(query)
    assert on.errors is None
    assert on.data["__schema"]["queryType"]["name"] == "Query"
    off = await run(query, toy_schema(introspection=False))
    assert codes(off) == ["INTROSPECTION_DISABLED"]
    assert (await run("{ __typename }", toy_schema(introspection=False))).errors is None


async def test_deep_introspection_is_bounded():
    query = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    result = await run(query)
    assert codes(result) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "introspection depth" in result.errors[0].message


class _Ctx:
    def __init__(self, principal: Principal | None) -> None:
        self.principal = principal


@pytest.mark.parametrize(
    ("settings", "principal", "allowed"),
    [
        ({"env": "development"}, None, True),
        ({"env": "test"}, None, True),
        ({"env": "production"}, Principal(client_ip="1.2.3.4"), False),
        ({"env": "production"}, None, False),
        (
            {"env": "production"},
            Principal(client_ip="x", key_id="k", scopes=frozenset({"admin"})),
            True,
        ),
        ({"env": "production"}, Principal(client_ip="x", key_id="k", tier="internal"), True),
        ({"env": "production", "introspection": True}, Principal(client_ip="x"), True),
        ({"env": "development", "introspection": False}, Principal(client_ip="x"), False),
    ],
)
def test_introspection_policy(settings, principal, allowed):
    policy = introspection_policy(Settings(**settings))
    assert policy(_Ctx(principal)) is allowed


def test_a_document_within_limits_is_remembered_per_limits_never_a_refusal():
    from graphql import parse

    from app.document_cache import known_passed
    from app.limits import Limits, _limit_errors

    document = parse("{ a { b { c { d } } } }")
    roomy, tight = Limits(max_depth=10), Limits(max_depth=2)
    assert _limit_errors(document, roomy) == []
    assert known_passed(roomy, document)
    # The same document under tighter limits is measured again and refused, every time.
    for _ in range(2):
        (error,) = _limit_errors(document, tight)
        assert error.extensions["code"] == "DEPTH_LIMIT_EXCEEDED"
    assert not known_passed(tight, document)
