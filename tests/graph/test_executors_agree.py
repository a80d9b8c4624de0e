"""The real schema answers identically on the compiled path and on graphql-core's executor.

The compiled path resolves ``Asset.price``/``market``/``signals``/``grade``/
``candles`` with their batch forms (one call per level) and keeps consensuses
across requests; graphql-core calls the per-asset resolvers. Over seeded data,
every document below — the full dashboard, conversions, time travel, aggregated
candles, aliases with different arguments, bad arguments — must give the same
data and the same errors on both. (``tests/compiled`` proves the executor itself
on generated operations; this proves our resolvers' batch forms.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.main import create_app
from tests.conftest import gql, make_settings
from tests.graph.conftest import serve
from tests.graph.test_dashboard_statements import DASHBOARD, seed_dashboard

AT_DASHBOARD = DASHBOARD.replace("($n: Int!)", "($n: Int!, $at: DateTime)").replace(
    "orderBy: {field: MARKET_CAP})", "orderBy: {field: MARKET_CAP}, asOf: $at)"
)

DOCUMENTS = [
    AT_DASHBOARD,
    """query($n: Int!, $at: DateTime) { assets(first: $n, asOf: $at) { edges { node {
        id usd: price { value sourceCount sources { source price used excluded: excludedReason } }
        usdt: price(quote: "usdt") { value quote method sources { conversion { rate } } }
        market(quote: "USDT") { marketCap source }
        rsi: signals(kinds: ["rsi"]) { kind value }
        all: signals { kind }
        grade { value direction components { name } }
        c4: candles(interval: "4h", last: 6) {
            openTime open high low close partsPresent partsExpected }
        c1: candles(interval: "1h", from: "2020-01-01T00:00:00Z", last: 3) { openTime isComplete }
    } } } }""",
    # views over records: a selection of record reads only runs on the records
    """query($n: Int!, $at: DateTime) { assets(first: $n, asOf: $at) { edges { node {
        bare: signals(kinds: ["rsi", "macd"]) {
            __typename kind value direction horizon computedAt source }
        views: signals { kind ageSeconds }
        price { value observedAt stale sourceCount method }
        usdt: price(quote: "USDT") { __typename value quote sources { source } }
    } } } }""",
    # a bad argument fails the field on every asset, on both paths
    """query($n: Int!, $at: DateTime) { assets(first: $n, asOf: $at) { edges { node {
        symbol price(quote: "not a code") { value } } } } }""",
    """query($n: Int!, $at: DateTime) { assets(first: $n, asOf: $at) { edges { node {
        symbol candles(interval: "7m", last: 3) { close } } } } }""",
]


def _comparable(body: dict) -> dict:
    errors = [
        {
            "message": e["message"],
            "path": e.get("path"),
            "code": e.get("extensions", {}).get("code"),
        }
        for e in body.get("errors", [])
    ]
    return {"data": body.get("data"), "errors": sorted(errors, key=repr)}


@pytest.mark.parametrize("document", range(len(DOCUMENTS)))
async def test_compiled_and_reference_answers_are_identical(db, document):
    now = await seed_dashboard(db, 12)
    variables = {"n": 12, "at": (now - timedelta(minutes=1)).isoformat()}
    answers = []
    for compiled in (True, False):
        settings = make_settings(db.url, cost_enforce=False, compiled_execution=compiled)
        async with serve(create_app(settings)) as served:
            answers.append(await gql(served.client, DOCUMENTS[document], variables))
    compiled_body, reference_body = answers
    assert _comparable(compiled_body) == _comparable(reference_body)
    if document < 3:
        assert compiled_body["data"]["assets"]["edges"] and "errors" not in compiled_body
    elif document == 3:  # a nullable field: null and an error on every asset
        assert len(compiled_body["errors"]) == 12
    else:  # non-null candles: the null reaches the root, one canonical error
        assert compiled_body["data"] is None
        assert compiled_body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_selection_of_record_reads_runs_on_the_records(db):
    from schema.assets import _consensuses, _prices, _signal_records, _signals
    from schema.compiled.executor import PLANS
    from schema.compiled.plan import OperationPlan

    await seed_dashboard(db, 2)
    settings = make_settings(db.url, cost_enforce=False, compiled_execution=True)
    async with serve(create_app(settings)) as served:
        body = await gql(served.client, DOCUMENTS[2], {"n": 2})
    assert "errors" not in body and body["data"]["assets"]["edges"][0]["node"]["bare"]
    plans = [p for (_s, q, _o), p in PLANS._plans.items() if q == DOCUMENTS[2]]
    assert plans and isinstance(plans[0], OperationPlan)
    connection = plans[0].root.fields[0].completer.plan
    edge = connection.fields[0].completer.item.plan
    asset = edge.fields[0].completer.plan
    bare, views, price, usdt = asset.fields
    assert bare.batch is _signal_records and views.batch is _signals
    assert price.batch is _consensuses and usdt.batch is _prices
    signal = bare.completer.item.plan
    assert [f.attr for f in signal.fields if f.attr] == [
        "kind",
        "value",
        "direction",
        "horizon",
        "computed_at",
        "source",
    ]
