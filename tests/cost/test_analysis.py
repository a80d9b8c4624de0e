"""Static and actual cost on the toy schema: every pricing rule with hand-computed numbers.

Weights in the toy: Coin/Chain/Tag/Point/edges 1 each, ``Coin.price`` 2 (a
weighted scalar), ``Chain.gas`` 5, scalars 0. ``coins``/``related`` are
connections sized by ``first`` (default 10); ``tags`` assumes 5 items;
``search`` is a union list sized by ``limit``; ``series`` is a time series.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from graphql import parse
from hypothesis import given, settings
from hypothesis import strategies as st

from cost.actual import ActualCounter, _WalkCompiler, actual_cost
from cost.analysis import AnalysisConfig, estimate, root_type_name
from cost.model import build_model
from cost.plan import CostAnalysisError, ShapeCache, compile_shape
from tests.cost.toy import NOW, toy_schema

SCHEMA = toy_schema()
MODEL = build_model(SCHEMA._schema)


def price(query: str, variables: dict | None = None, **kw) -> int:
    shape = compile_shape(parse(query))
    return estimate(MODEL, shape, variables, now=NOW, **kw).cost


async def run(query: str, variables: dict | None = None) -> tuple[int, int]:
    """(estimate, actual) with the toy's resolvers executing the operation."""
    shape = compile_shape(parse(query))
    est = estimate(MODEL, shape, variables, now=NOW)
    result = await SCHEMA.execute(query, variable_values=variables, context_value={})
    assert result.errors is None, result.errors
    actual = actual_cost(MODEL, shape, est.variables, result.data, root_type_name(MODEL, shape))
    return est.cost, round(actual)


@pytest.mark.parametrize(
    ("query", "variables", "expected", "actual"),
    [
        # object 1 + weighted scalar 2; plain scalars are free
        ('{ coin(id: "a") { symbol price } }', None, 3, 3),
        # connection 1 + first × (edge 1 + node 1 + price 2); 3 coins come back
        ("{ coins(first: 5) { edges { node { symbol price } } } }", None, 21, 13),
        # schema default first: 10
        ("{ coins { nodes { symbol } } }", None, 11, 4),
        # variables feed slicing arguments
        ("query($n: Int!) { coins(first: $n) { nodes { price } } }", {"n": 100}, 301, 10),
        # nested connections multiply: 1 + 2 × (1 + 1 + (1 + 3 × 3))
        (
            "{ coins(first: 2) { edges { node { related(first: 3) { nodes { price } } } } } }",
            None,
            25,
            25,
        ),
        # assumed size for an unsliced list: 1 + 5 × 1; two tags come back
        ('{ coin(id: "a") { tags { name } } }', None, 6, 3),
        # a null object costs nothing actually
        ('{ coin(id: "none") { price } }', None, 3, 0),
        # aliases count every time
        ('{ a: coin(id: "a") { price } b: coin(id: "b") { price } }', None, 6, 6),
        # interface: the most expensive implementation (Chain 1 + gas 5) is assumed
        (
            '{ node(id: "c1") { id ... on Chain { gas { baseFee } } ... on Coin { price } } }',
            None,
            6,
            3,
        ),
        (
            '{ node(id: "chain1") { ... on Chain { gas { baseFee } } ... on Coin { price } } }',
            None,
            6,
            6,
        ),
        # union list: limit × max(Coin 3, Chain 6); one of each comes back
        (
            '{ search(q: "x", limit: 4) { ... on Coin { price } '
            "... on Chain { gas { baseFee } } } }",
            None,
            24,
            9,
        ),
        # introspection is flat and cheap; __typename is free
        ("{ __schema { types { name fields { name } } } }", None, 1, 1),
        ("{ __typename }", None, 0, 0),
        ("{ ping }", None, 0, 0),
    ],
)
async def test_estimate_and_actual(query, variables, expected, actual):
    assert await run(query, variables) == (expected, actual)


async def test_fragment_spreads_count_every_time_but_execute_once():
    query = 'fragment F on Coin { price } { coin(id: "a") { ...F ...F ...F } }'
    assert await run(query) == (1 + 3 * 2, 3)


def test_fragment_amplification_is_priced_exponentially_and_quickly():
    # F0 spreads F1 ten times, F1 spreads F2 ten times ... : 10^6 price selections.
    levels = 6
    frags = [f"fragment F{levels} on Coin {{ price }}"]
    for i in range(levels - 1, -1, -1):
        frags.append(f"fragment F{i} on Coin {{ {' '.join([f'...F{i + 1}'] * 10)} }}")
    query = '{ coin(id: "a") { ...F0 } } ' + " ".join(frags)
    shape = compile_shape(parse(query))
    assert shape.size < 100  # the shape shares fragment plans: linear in the text
    assert price(query) == 1 + 2 * 10**levels


def test_inline_fragments_and_skip_include():
    q = 'query($s: Boolean!) { coin(id: "a") { ... on Coin { price @skip(if: $s) } } }'
    assert price(q, {"s": True}) == 1
    assert price(q, {"s": False}) == 3
    q2 = 'query($i: Boolean!) { coin(id: "a") @include(if: $i) { price } }'
    assert price(q2, {"i": False}) == 0


@pytest.mark.parametrize(
    ("args", "points"),
    [
        # a day of hourly points: ceil(24h / 1h) + 1 = 25
        ('interval: "1h", from: "2025-12-31T00:00:00Z", to: "2026-01-01T00:00:00Z"', 25),
        # capped by last
        ('interval: "1h", from: "2025-12-31T00:00:00Z", to: "2026-01-01T00:00:00Z", last: 5', 5),
        # no range: the slicing argument
        ('interval: "1h", last: 24', 24),
        # no range, no slice: assumedSize 100
        ('interval: "1h"', 100),
        # open-ended range runs to now (NOW = 2026-01-01)
        ('interval: "1d", from: "2025-12-22T00:00:00Z"', 11),
    ],
)
def test_time_series_priced_by_points(args, points):
    assert price(f'{{ coin(id: "a") {{ series({args}) {{ v }} }} }}') == 1 + points


async def test_time_series_estimate_bounds_actual():
    q = (
        '{ coin(id: "a") { series(interval: "1h", from: "2025-12-31T00:00:00Z", '
        'to: "2026-01-01T00:00:00Z") { t v } } }'
    )
    estimated, actual = await run(q)
    assert estimated == actual == 26


def test_months_are_counted_with_their_shortest_length():
    from cost.intervals import interval_seconds, points_in_range

    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 1, tzinfo=UTC)
    # 13 monthly buckets touch [2025-01-01, 2026-01-01]; the bound must not be lower
    assert points_in_range(start, end, interval_seconds("1M")) >= 13
    assert interval_seconds("15m") == 900
    assert interval_seconds("bogus") is None


def test_breakdown_lists_paths_with_their_totals():
    shape = compile_shape(parse("{ coins(first: 5) { edges { node { symbol price } } } }"))
    est = estimate(MODEL, shape, None, breakdown=True, now=NOW)
    got = {tuple(f.path): (f.defined_cost, f.size, f.requested_total_cost) for f in est.fields}
    assert got == {
        ("coins",): (1, 1, 21),
        ("coins", "edges"): (1, 5, 20),
        ("coins", "edges", "node"): (1, 1, 3),
        ("coins", "edges", "node", "price"): (2, 1, 2),
    }
    assert est.fields_truncated is False


def test_breakdown_is_bounded():
    aliases = " ".join(f'a{i}: coin(id: "x") {{ price }}' for i in range(50))
    shape = compile_shape(parse(f"{{ {aliases} }}"))
    est = estimate(MODEL, shape, None, AnalysisConfig(breakdown_limit=10), breakdown=True)
    assert len(est.fields) == 10
    assert est.fields_truncated is True
    assert est.cost == 150


def test_invalid_variables_fall_back_to_declared_sizes():
    # Execution rejects the variable before any resolver; pricing must not crash.
    q = "query($n: Int!) { coins(first: $n) { nodes { price } } }"
    assert price(q, {"n": "many"}) == 1 + 10 * 3


def test_unvalidated_cycles_and_unknown_fragments_are_refused():
    with pytest.raises(CostAnalysisError):
        compile_shape(
            parse(
                '{ coin(id: "a") { ...A } } fragment A on Coin { ...B } fragment B on Coin { ...A }'
            )
        )
    with pytest.raises(CostAnalysisError):
        compile_shape(parse('{ coin(id: "a") { ...Missing } }'))


def test_shape_cache_reuses_compiled_documents():
    cache = ShapeCache(maxsize=2)
    text = '{ coin(id: "a") { price } }'
    first = cache.get(text, parse(text), None)
    assert cache.get(text, parse(text), None) is first
    assert (cache.hits, cache.misses) == (1, 1)
    for other in ("{ ping }", "{ __typename }"):
        cache.get(other, parse(other), None)
    assert len(cache) == 2  # LRU bound
    assert cache.get(text, parse(text), None) is not first


def test_operation_name_selects_the_operation():
    doc = parse('query A { ping } query B { coin(id: "a") { price } }')
    assert estimate(MODEL, compile_shape(doc, "B"), None).cost == 3
    assert estimate(MODEL, compile_shape(doc, "A"), None).cost == 0
    assert root_type_name(MODEL, compile_shape(doc, "A")) == "Query"


def test_estimates_are_kept_per_variables_unless_they_read_the_clock():
    shape = compile_shape(
        parse("query Q($n: Int) { coins(first: $n) { edges { node { price } } } }")
    )
    first = estimate(MODEL, shape, {"n": 5})
    assert estimate(MODEL, shape, {"n": 5}) is first  # same variables: priced once
    other = estimate(MODEL, shape, {"n": 7})
    assert other is not first and other.cost > first.cost
    assert estimate(MODEL, shape, {"n": 5.0}) is not first  # equal, but not the same value
    # a series open at the end is priced against the clock: never kept
    open_ended = compile_shape(
        parse('{ coin(id: "a") { series(interval: "1d", from: "2025-12-22T00:00:00Z") { v } } }')
    )
    assert estimate(MODEL, open_ended, None) is not estimate(MODEL, open_ended, None)
    closed = compile_shape(parse('{ coin(id: "a") { series(interval: "1h", last: 3) { v } } }'))
    assert estimate(MODEL, closed, None) is estimate(MODEL, closed, None)


def test_actual_cost_walk_is_kept_per_shape_unless_skip_or_include_decides():
    config = AnalysisConfig()
    plain = compile_shape(parse("{ coins(first: 5) { edges { node { symbol price } } } }"))
    assert not plain.conditional
    few = {"coins": {"edges": [{"node": {"symbol": "A", "price": 1}}]}}
    many = {"coins": {"edges": [{"node": {"symbol": "A", "price": 1}}] * 3}}
    # the kept walker answers for other data as a fresh one does
    assert actual_cost(MODEL, plain, None, few, "Query", config) == 1 + 1 + 1 + 2
    (kept,) = plain.counters.values()
    assert actual_cost(MODEL, plain, None, many, "Query", config) == 1 + 3 * 4
    assert list(plain.counters.values()) == [kept]
    # with @include the variables decide what is priced: never kept
    q = """query($p: Boolean!) {
        coins(first: 5) { edges { node { symbol price @include(if: $p) } } } }"""
    cond = compile_shape(parse(q))
    assert cond.conditional and not cond.counters
    data = {"coins": {"edges": [{"node": {"symbol": "A", "price": 1}}]}}
    on = estimate(MODEL, cond, {"p": True}, now=NOW).variables
    off = estimate(MODEL, cond, {"p": False}, now=NOW).variables
    assert actual_cost(MODEL, cond, on, data, "Query", config) == 5
    no_price = {"coins": {"edges": [{"node": {"symbol": "A"}}]}}
    assert actual_cost(MODEL, cond, off, no_price, "Query", config) == 3
    assert not cond.counters


# The generated walk (cost.actual._WalkCompiler) against the generic one: the same
# floats for any data, including shapes an executor never returns (lists where an
# object belongs, nested lists, scalars, missing keys, list and dict subclasses).
WALK_QUERIES = [
    '{ coin(id: "a") { symbol price tags { name } } }',
    "{ coins(first: 5) { edges { node { symbol price } } } }",
    "{ c: coins { nodes { price } } d: coins(first: 2) { totalCount edges { cursor } } }",
    "{ coins(first: 2) { edges { node { related(first: 3) { nodes { price } } } } } }",
    '{ node(id: "c1") { id ... on Chain { gas { baseFee } } ... on Coin { price } } }',
    '{ search(q: "x", limit: 4) { __typename ... on Coin { price } '
    "... on Chain { gas { baseFee } } } }",
    '{ coin(id: "a") { series(interval: "1h", last: 3) { v } } __typename }',
]


class _ListSub(list):
    pass


class _DictSub(dict):
    pass


def _walk_data(keys: list[str]):
    leaves = st.none() | st.integers(0, 9) | st.sampled_from(["Coin", "Chain", "x"])
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.lists(inner, max_size=3).map(_ListSub)
            | st.dictionaries(st.sampled_from(keys), inner, max_size=6)
            | st.dictionaries(st.sampled_from(keys), inner, max_size=3).map(_DictSub)
        ),
        max_leaves=40,
    )


def _walk_both(query: str, root: dict, arg_costs: list[float]) -> list[float]:
    """The cost of ``root`` for ``query`` by the generic and by the generated walk."""
    shape = compile_shape(parse(query))
    results = []
    for compiled in (False, True):
        counter = ActualCounter(MODEL, AnalysisConfig(), None)
        collected = counter.collect([shape.root], "Query")
        pending, seen = [collected], 0
        while pending:  # every selection reachable from the root, in a fixed order
            c = pending.pop(0)
            for _key, entry in c.pairs:
                entry.arg_cost = arg_costs[seen % len(arg_costs)]
                seen += 1
                if not entry.fc.is_leaf and not entry.fc.is_abstract:
                    pending.append(counter.collect_for(entry, entry.fc.returns))
        if compiled:
            results.append(_WalkCompiler(counter).object_walk(collected)(root))
        else:
            results.append(counter.object_cost(collected, root))
    return results


@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_generated_cost_walk_adds_what_the_generic_walk_adds(data):
    query = data.draw(st.sampled_from(WALK_QUERIES))
    keys = sorted(set(re.findall(r"[A-Za-z_]\w*", query)))
    root = data.draw(st.dictionaries(st.sampled_from(keys), _walk_data(keys), max_size=6))
    # argument costs, the same in both walkers (the toy declares none)
    arg_costs = data.draw(st.lists(st.sampled_from([0.0, 0.5, 3.0]), min_size=20, max_size=20))
    generic, generated = _walk_both(query, root, arg_costs)
    assert generic == generated, (query, root)


@pytest.mark.parametrize(
    "tags",
    [
        [{"name": "a"}, None, {"name": "b"}],  # counted objects, a null among them
        [None, {"name": "a"}],
        [[{"name": "a"}, {"name": "c"}, None], None, [{"name": "b"}]],  # nested lists
        _ListSub([{"name": "a"}, None]),
        {"name": "a"},  # an object where a list belongs
        "x",
        [],
    ],
)
def test_generated_cost_walk_counts_lists_as_the_generic_walk(tags):
    query = '{ coin(id: "a") { price tags { name } } c: coins { nodes { price } } }'
    root = {"coin": {"price": 1, "tags": tags}, "c": {"nodes": tags}}
    generic, generated = _walk_both(query, root, [0.0])
    assert generic == generated
    assert generic > 0


def test_kept_walker_generates_its_walk_on_second_use():
    shape = compile_shape(parse("{ coins(first: 5) { edges { node { symbol price } } } }"))
    data = {"coins": {"edges": [{"node": {"symbol": "A", "price": 1}}] * 3}}
    config = AnalysisConfig()
    assert actual_cost(MODEL, shape, None, data, "Query", config) == 1 + 3 * 4
    ((_m, _c, counter),) = shape.counters.values()
    root = counter.collect([shape.root], "Query")
    assert root.walk is None  # a one-off document never pays for code generation
    assert actual_cost(MODEL, shape, None, data, "Query", config) == 1 + 3 * 4
    assert root.walk is not None and "def walk(obj):" in (root.walk.__doc__ or "")
    assert actual_cost(MODEL, shape, None, {"coins": None}, "Query", config) == 0
