"""Amplification attacks are refused before execution: a resolver counter shows zero calls.

Each attack is sent to the full app (both database backends, seeded rows so a
resolver that did run would be visible) as an anonymous caller. Every refusal
carries a documented code; the cost ones carry ``extensions.cost {estimated, max}``.
"""

from __future__ import annotations

import pytest

from resolvers.errors import ERROR_CODES
from tests.cost.helpers import cost_app, dump, post, seed_assets
from tests.cost.toy import CALLS

PRICE = "price { value }"


def refused(resp, code="COST_ESTIMATED_TOO_EXPENSIVE"):
    body = resp.json()
    errors = body["errors"] if isinstance(body, dict) else body[0]["errors"]
    assert errors, dump(resp)
    assert errors[0]["extensions"]["code"] == code, dump(resp)
    assert code in ERROR_CODES
    assert CALLS == [], f"resolvers ran: {CALLS[:20]}"
    return errors[0]["extensions"]


@pytest.fixture
async def client(db, monkeypatch):
    await seed_assets(db.sessions, 3)
    async with cost_app(db.url, monkeypatch) as c:
        # a cheap query runs (the counter works) and the counter is then reset
        ok = await post(c, "{ assets(first: 1) { nodes { symbol } } }")
        assert ok.json()["data"]["assets"]["nodes"], dump(ok)
        assert "assets" in CALLS
        CALLS.clear()
        yield c


async def test_alias_amplification(client):
    # each alias alone costs 1 + 50 × 2 = 101, well under the 1,000 maximum; 20 of them do not
    aliases = " ".join(f"a{i}: assets(first: 50) {{ nodes {{ {PRICE} }} }}" for i in range(20))
    ext = refused(await post(client, f"{{ {aliases} }}"))
    assert ext["cost"] == {"estimated": 20 * 101, "max": 1000}


async def test_fragment_amplification(client):
    # F is spread 10 times in G and G 10 times in H: execution merges the repeats,
    # the price counts every one of the 100 (2 points each) for each of 50 assets
    g = " ".join(["...F"] * 10)
    h = " ".join(["...G"] * 10)
    query = (
        "{ assets(first: 50) { nodes { ...H } } } "
        f"fragment F on Asset {{ {PRICE} market {{ marketCap }} }} "
        f"fragment G on Asset {{ {g} }} fragment H on Asset {{ {h} }}"
    )
    ext = refused(await post(client, query))
    assert ext["cost"]["estimated"] == 1 + 50 * (1 + 100 * 2)


async def test_nested_fragment_explosion_is_priced_without_expanding(db, monkeypatch):
    # 10^5 selections after expansion, a few hundred bytes of text. The server's
    # selection limit refuses this too; it is raised here so the price is what refuses.
    frags = ["fragment L5 on Asset { " + PRICE + " }"]
    for i in range(4, -1, -1):
        frags.append(f"fragment L{i} on Asset {{ {' '.join([f'...L{i + 1}'] * 10)} }}")
    query = '{ asset(id: "coin-000") { ...L0 } } ' + " ".join(frags)
    await seed_assets(db.sessions, 1)
    async with cost_app(db.url, monkeypatch, max_selections=10**6) as client:
        ext = refused(await post(client, query))
    assert ext["cost"]["estimated"] == 1 + 10**5


async def test_deep_nesting_through_lists(client):
    # asset → contracts[10] → chain → nativeAsset → contracts[10] → …, within the depth limit:
    # 1 + 10 × (3 + 10 × (3 + 10 × 1)) = 1,331
    query = """{ asset(id: "coin-000") { contracts { chain { nativeAsset {
        contracts { chain { nativeAsset { contracts { address } } } } } } } } }"""
    ext = refused(await post(client, query))
    assert ext["cost"] == {"estimated": 1331, "max": 1000}


async def test_nesting_beyond_the_depth_limit(client):
    inner = "symbol"
    for _ in range(12):
        inner = f"contracts {{ chain {{ nativeAsset {{ {inner} }} }} }}"
    resp = await post(client, f'{{ asset(id: "coin-000") {{ {inner} }} }}')
    code = resp.json()["errors"][0]["extensions"]["code"]
    # the depth limit (server) or the cost limit, whichever validation meets first
    refused(resp, code if code == "DEPTH_LIMIT_EXCEEDED" else "COST_ESTIMATED_TOO_EXPENSIVE")


@pytest.mark.parametrize(
    "query",
    [
        "{ assets(first: 100000) { nodes { symbol } } }",
        '{ asset(id: "coin-000") { candles(interval: "1m", last: 1000000) { close } } }',
        # a year of minutes: ceil(365 d / 1 min) + 1 points
        '{ asset(id: "coin-000") { candles(interval: "1m", from: "2025-01-01T00:00:00Z", '
        'to: "2026-01-01T00:00:00Z") { close } } }',
    ],
)
async def test_huge_slices_and_ranges(client, query):
    ext = refused(await post(client, query))
    assert ext["cost"]["estimated"] > 1000


async def test_cost_variables(client):
    query = "query($n: Int!) { assets(first: $n) { nodes { symbol } } }"
    ext = refused(await post(client, query, {"n": 5000}))
    assert ext["cost"]["estimated"] == 1 + 5000
    # a variable's default counts as if it had been passed
    defaulted = "query($n: Int = 4000) { assets(first: $n) { nodes { symbol } } }"
    assert refused(await post(client, defaulted))["cost"]["estimated"] == 1 + 4000
    # @include driven by a variable cannot hide the cost
    hidden = (
        "query($on: Boolean!) "
        "{ assets(first: 999) @include(if: $on) { nodes { price { value } } } }"
    )
    refused(await post(client, hidden, {"on": True}))


async def test_array_batching_off_by_default(client):
    batch = [{"query": "{ assets(first: 100) { nodes { symbol } } }"}] * 5
    resp = await client.post("/graphql", json=batch)
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["extensions"]["code"] in ERROR_CODES
    assert CALLS == []


async def test_array_batching_priced_as_a_whole(db, monkeypatch):
    await seed_assets(db.sessions, 2)
    async with cost_app(db.url, monkeypatch, max_batch_operations=5) as c:
        # 5 × (1 + 300 × 1) = 1,505 > 1,000 although each operation alone fits
        one = {"query": "{ assets(first: 250) { nodes { symbol } } }"}
        resp = await c.post("/graphql", json=[one] * 5)
        body = resp.json()
        assert len(body) == 5
        for item in body:
            assert item["errors"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
            assert item["errors"][0]["extensions"]["cost"] == {"estimated": 5 * 251, "max": 1000}
        assert CALLS == []
        # a batch that fits runs
        small = {"query": "{ assets(first: 10) { nodes { symbol } } }"}
        resp = await c.post("/graphql", json=[small] * 3)
        assert all("errors" not in item for item in resp.json()), dump(resp)
        assert CALLS.count("assets") == 3
