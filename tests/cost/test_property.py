"""Property tests over the real schema with hypothesis-graphql.

1. For every generated valid operation, run against seeded data through the
   app (measure mode, so nothing is refused), the static estimate is at least
   the actual cost computed from the returned data.
2. Pricing any document up to the token limit finishes well under 50 ms
   (a complexity guard with a generous bound, not a benchmark).

Generated argument values are random strings and numbers, which would mostly
miss the seeded rows; arguments with known meanings (ids, symbols, intervals,
page sizes) are therefore redrawn from values that hit data, so estimates are
compared with real, non-empty lists.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import graphql
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from hypothesis_graphql import strategies as gql_st

from app.settings import Settings
from cost.analysis import estimate
from cost.model import model_for
from cost.plan import compile_shape
from schema.build import build_schema
from tests.cost.helpers import cost_app, post
from tests.factories import Factory

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
SCHEMA = build_schema()
GQL_SCHEMA = SCHEMA._schema
ASSETS = ["bitcoin", "ethereum", "tether", "usd-coin"]
SYMBOLS = ["BTC", "ETH", "USDT", "USDC"]
INTERVALS = ["1m", "15m", "1h", "1h", "4h", "1d", "1d", "1w", "1M"]

CUSTOM_SCALARS = {
    "DateTime": st.datetimes(
        min_value=(NOW - timedelta(days=40)).replace(tzinfo=None),
        max_value=NOW.replace(tzinfo=None),
        timezones=st.just(UTC),
    ).map(lambda d: nodes.String(d.isoformat())),
    "Decimal": st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False).map(
        nodes.String
    ),
    "JSON": st.just(nodes.String("{}")),
}

#: argument name -> strategy of replacement value nodes (drawn per occurrence)
MEANINGFUL = {
    "id": st.sampled_from(ASSETS).map(nodes.String),
    "symbol": st.sampled_from(SYMBOLS).map(nodes.String),
    "interval": st.sampled_from(INTERVALS).map(nodes.String),
    "first": st.integers(0, 12).map(nodes.Int),
    "last": st.integers(1, 60).map(nodes.Int),
    "quote": st.sampled_from(["USD", "USDT"]).map(nodes.String),
    "chainId": st.just(nodes.String("ethereum")),
}


def meaningful(document: graphql.DocumentNode, draw) -> str:
    """Redraw known arguments (most of the time) so generated queries hit seeded rows.

    ``asset`` gets exactly one of ``id``/``symbol`` (both is an input error) and
    ``asOf`` is usually dropped (the seeded quotes are recent).
    """

    class Redraw(graphql.Visitor):
        def enter_field(self, node, *_):
            args = list(node.arguments or ())
            if draw(st.integers(0, 9)) < 8:
                args = [a for a in args if a.name.value != "asOf"]
            if node.name.value == "asset" and draw(st.integers(0, 9)) < 8:
                key = draw(st.sampled_from(["id", "symbol"]))
                args = [a for a in args if a.name.value not in ("id", "symbol")]
                args.append(
                    graphql.ArgumentNode(
                        name=graphql.NameNode(value=key), value=draw(MEANINGFUL[key])
                    )
                )
            return graphql.FieldNode(
                alias=node.alias,
                name=node.name,
                arguments=tuple(args),
                directives=node.directives,
                selection_set=node.selection_set,
            )

        def enter_argument(self, node, *_):
            strategy = MEANINGFUL.get(node.name.value)
            if strategy is not None and draw(st.integers(0, 9)) < 8:
                return graphql.ArgumentNode(name=node.name, value=draw(strategy))
            return None

    return graphql.print_ast(graphql.visit(document, Redraw()))


async def seed(sessions) -> None:
    f = Factory(sessions)
    ids = {}
    for rank, (cid, sym) in enumerate(zip(ASSETS, SYMBOLS, strict=True), start=1):
        ids[cid] = await f.asset(cid, symbol=sym, rank=rank, categories=["layer-1"])
    await f.chain("ethereum", native_asset_id=ids["ethereum"])
    for asset_id in ids.values():
        for s, source in enumerate(("coingecko", "binance", "coinbase")):
            await f.quote(
                asset_id,
                source,
                100 + s,
                market_cap=1e9,
                volume_24h=1e6,
                observed_at=NOW - timedelta(seconds=30),
            )
        start = NOW - timedelta(hours=72)
        await f.candles(asset_id, "1h", start, [(1, 2, 0.5, 1.5, 10)] * 72)
        await f.candles(asset_id, "1d", NOW - timedelta(days=30), [(1, 2, 0.5, 1.5, 10)] * 30)
        await f.signal(asset_id, "rsi_14", 55, computed_at=NOW - timedelta(minutes=5))
        await f.signal(
            asset_id,
            "trader_grade",
            70,
            details={"momentum": 60},
            computed_at=NOW - timedelta(minutes=5),
        )
    await f.contract(ids["tether"], "ethereum", "0x" + "d" * 40, decimals=6)
    for n in range(5):
        await f.block("ethereum", 100 + n, timestamp=NOW - timedelta(seconds=12 * (5 - n)))
        await f.transfer(
            "ethereum",
            "0x" + "d" * 40,
            10**6 * (n + 1),
            block_number=100 + n,
            timestamp=NOW - timedelta(minutes=n),
        )
    for n in range(10):
        await f.metric("ethereum", "gas_price", 20 + n, ts=NOW - timedelta(minutes=10 * n))


def _literal(arg_name: str, arg_type: graphql.GraphQLInputType) -> st.SearchStrategy[str] | None:
    """A value for an argument deep queries must or may pass (``None``: cannot)."""
    if arg_name in MEANINGFUL:
        return MEANINGFUL[arg_name].map(graphql.print_ast)
    inner = graphql.get_nullable_type(arg_type)
    if isinstance(inner, graphql.GraphQLList):
        return st.just('["bitcoin"]')
    if isinstance(inner, graphql.GraphQLEnumType):
        return st.sampled_from(sorted(inner.values))
    if inner is graphql.GraphQLString or inner is graphql.GraphQLID:
        return st.sampled_from(['"bitcoin"', '"gas_price"', '"ethereum"'])
    if inner is graphql.GraphQLInt:
        return st.integers(1, 10).map(str)
    if inner is graphql.GraphQLBoolean:
        return st.sampled_from(["true", "false"])
    if isinstance(inner, graphql.GraphQLScalarType) and inner.name == "DateTime":
        return CUSTOM_SCALARS["DateTime"].map(graphql.print_ast)
    return None


def _arguments(name: str, field: graphql.GraphQLField) -> st.SearchStrategy[str] | None:
    if name == "asset" and "symbol" in field.args:  # exactly one of id / symbol
        return st.one_of(
            MEANINGFUL["id"].map(lambda v: f"(id: {graphql.print_ast(v)})"),
            MEANINGFUL["symbol"].map(lambda v: f"(symbol: {graphql.print_ast(v)})"),
        )
    if name == "chain" and "id" in field.args:
        return st.just('(id: "ethereum")')
    if name == "node":  # needs opaque global ids
        return None
    parts = []
    for name, arg in field.args.items():
        value = _literal(name, arg.type)
        required = graphql.is_required_argument(arg)
        if value is None:
            if required:
                return None
            continue
        if required:
            parts.append(value.map(lambda v, n=name: f"{n}: {v}"))
        elif name in MEANINGFUL or name in ("from", "to"):
            parts.append(st.one_of(st.just(""), value.map(lambda v, n=name: f"{n}: {v}")))
    if not parts:
        return st.just("")
    return st.tuples(*parts).map(
        lambda xs: "(" + ", ".join(x for x in xs if x) + ")" if any(xs) else ""
    )


def deep_selection(type_: graphql.GraphQLNamedType, depth: int) -> st.SearchStrategy[str]:
    """Random nested selections on ``type_`` (lists and connections included)."""
    if isinstance(type_, graphql.GraphQLInterfaceType | graphql.GraphQLUnionType):
        possible = GQL_SCHEMA.get_possible_types(type_)
        return (
            st.lists(st.sampled_from(possible), min_size=1, max_size=3, unique=True)
            .flatmap(
                lambda ts: st.tuples(
                    *(
                        deep_selection(t, depth).map(lambda s, t=t: f"... on {t.name} {{ {s} }}")
                        for t in ts
                    )
                )
            )
            .map(lambda xs: "__typename " + " ".join(xs))
        )
    assert isinstance(type_, graphql.GraphQLObjectType)
    choices = []
    for name, field in type_.fields.items():
        named = graphql.get_named_type(field.type)
        args = _arguments(name, field)
        if args is None or name in ("rateLimit", "costModel"):
            continue
        if graphql.is_leaf_type(named):
            choices.append(args.map(lambda a, n=name: n + a))
        elif depth > 0:
            choices.append(
                st.tuples(
                    args, st.deferred(lambda named=named: deep_selection(named, depth - 1))
                ).map(lambda p, n=name: f"{n}{p[0]} {{ {p[1]} }}")
            )
    if not choices:
        return st.just("__typename")
    return (
        st.lists(st.sampled_from(range(len(choices))), min_size=1, max_size=5, unique=True)
        .flatmap(lambda idx: st.tuples(*(choices[i] for i in idx)))
        .map(" ".join)
    )


DEEP_QUERIES = deep_selection(GQL_SCHEMA.query_type, 5).map(lambda s: "{ " + s + " }")


@pytest.fixture
async def measured(db, monkeypatch):
    await seed(db.sessions)
    async with cost_app(db.url, monkeypatch, cost_enforce=False) as client:
        yield client


QUERIES = gql_st.queries(
    GQL_SCHEMA,
    fields=["asset", "assets", "chains", "chain"],
    custom_scalars=CUSTOM_SCALARS,
    print_ast=lambda doc: doc,
    allow_x00=False,
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_estimate_bounds_actual_cost(measured, data):
    if data.draw(st.booleans()):
        query = meaningful(data.draw(QUERIES), data.draw)
    else:
        query = data.draw(DEEP_QUERIES)
    resp = await post(measured, query)
    assert resp.status_code == 200, resp.text
    cost = resp.json()["extensions"]["cost"]
    requested, actual = cost["requestedQueryCost"], cost["actualQueryCost"]
    assert requested is not None, query
    assert actual is not None, query
    assert requested >= actual, f"{query}\n{resp.text[:3000]}"


async def test_rich_query_on_seeded_data(measured):
    # A hand-written operation touching every list kind, as a control for the property:
    # the lists really come back non-empty, and the estimate still bounds them.
    query = """{
      assets(first: 10) { edges { node {
        symbol categories contracts { address chain { name } }
        price { value sources { source price } outliers }
        signals { kind value } grade { value components { name score } }
        candles(interval: "1h", last: 48) { close }
        daily: candles(interval: "1d", from: "FROM") { close }
        onchain { tokens { transferCount largestTransfers(first: 3) { value } } }
      } } }
      chains { name blocks(first: 5) { nodes { number } } latestMetrics { kind value } }
    }""".replace("FROM", (NOW - timedelta(days=20)).isoformat())
    resp = await post(measured, query)
    body = resp.json()
    assert "errors" not in body, resp.text[:2000]
    cost = body["extensions"]["cost"]
    assert len(body["data"]["assets"]["edges"]) == 4
    assert cost["actualQueryCost"] > 4 * 48 * 2  # the hourly candles alone
    assert cost["requestedQueryCost"] >= cost["actualQueryCost"]


BIG_QUERIES = gql_st.queries(
    GQL_SCHEMA,
    custom_scalars=CUSTOM_SCALARS,
    allow_x00=False,
)


def token_count(text: str) -> int:
    lexer = graphql.language.Lexer(graphql.Source(text))
    n = 0
    while lexer.advance().kind is not graphql.language.TokenKind.EOF:
        n += 1
    return n


ANALYSIS_SECONDS: list[float] = []


AMPLIFIER = graphql.parse(
    """{ asset(id: "x") { ...F } }
    fragment F on Asset {
      price { value sources { source } } candles(interval: "1m", last: 1000) { close }
    }"""
)


def merged_document(texts: list[str], repeats: int, limit: int) -> tuple[str, int]:
    """The generated operations' root selections, aliased apart and repeated, plus a
    fragment spread ``repeats`` times: as large as fits in ``limit`` tokens."""
    amplifier = AMPLIFIER.definitions[0].selection_set.selections[0]
    spread = amplifier.selection_set.selections[0]
    amp = graphql.FieldNode(
        alias=graphql.NameNode(value="amp"),
        name=amplifier.name,
        arguments=amplifier.arguments,
        directives=(),
        selection_set=graphql.SelectionSetNode(selections=(spread,) * repeats),
    )
    roots = [
        sel for text in texts for sel in graphql.parse(text).definitions[0].selection_set.selections
    ]

    def render(copies: int) -> str:
        selections = [
            graphql.FieldNode(
                alias=graphql.NameNode(value=f"q{c}_{j}"),
                name=sel.name,
                arguments=sel.arguments,
                directives=sel.directives,
                selection_set=sel.selection_set,
            )
            for c in range(copies)
            for j, sel in enumerate(roots)
        ]
        operation = graphql.OperationDefinitionNode(
            operation=graphql.OperationType.QUERY,
            selection_set=graphql.SelectionSetNode(selections=(*selections, amp)),
        )
        return graphql.print_ast(
            graphql.DocumentNode(definitions=(operation, AMPLIFIER.definitions[1]))
        )

    base = token_count(render(0))
    per_copy = max(1, token_count(render(1)) - base)
    copies = max(0, min(500, (limit - base) // per_copy))
    text = render(copies)
    while copies and token_count(text) > limit:
        copies -= 1
        text = render(copies)
    return text, token_count(text)


def analysis_ms(document: graphql.DocumentNode) -> float:
    """CPU milliseconds to compile and price ``document`` from scratch (best of 3 runs).

    CPU time of this thread, not wall time: the machine is shared, and time spent
    waiting for a core says nothing about the analyser's complexity.
    """
    model = model_for(GQL_SCHEMA)
    best = float("inf")
    for _ in range(3):
        started = time.thread_time()
        estimate(model, compile_shape(document), None, breakdown=True)
        best = min(best, time.thread_time() - started)
    return best * 1000


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # a failure prints its size; shrinking is slow
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(parts=st.lists(BIG_QUERIES, min_size=1, max_size=4), repeats=st.integers(1, 300))
def test_analysis_of_any_document_up_to_the_token_limit_is_fast(parts, repeats):
    # at least the server's token limit (a document above it is refused by the parser)
    text, tokens = merged_document(parts, repeats, limit=max(5000, Settings().max_tokens))
    document = graphql.parse(text)
    assert not graphql.validate(GQL_SCHEMA, document), text[:500]
    elapsed = analysis_ms(document)
    assert elapsed < 50, f"{elapsed:.1f} ms for {tokens} tokens"
