"""Asset lookup by id and symbol, AMBIGUOUS_SYMBOL, node(id:) and chains."""

import base64
from datetime import UTC, datetime, timedelta

from tests.conftest import gql
from tests.factories import Factory


def codes(body):
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def seed_symbols(db):
    f = Factory(db.sessions)
    await f.asset("bitcoin", symbol="BTC", name="Bitcoin", rank=1, categories=["layer-1", "pow"])
    await f.asset("uniswap", symbol="UNI", name="Uniswap", kind="token", categories=["defi"])
    # Two unrelated assets share the ticker "ACT" (it happens: tickers are not ids).
    await f.asset("achain", symbol="ACT", name="Achain")
    await f.asset("act-i-the-ai-prophecy", symbol="act", name="Act I")
    return f


async def test_asset_by_id_and_by_unambiguous_symbol(db, api):
    await seed_symbols(db)
    body = await gql(
        api,
        """{ a: asset(id: "bitcoin") { canonicalId symbol name kind rank categories }
             b: asset(symbol: "uni") { canonicalId kind }
             c: asset(symbol: "NOPE") { canonicalId }
             d: asset(id: "nope") { canonicalId } }""",
    )
    assert "errors" not in body, body
    data = body["data"]
    assert data["a"] == {
        "canonicalId": "bitcoin",
        "symbol": "BTC",
        "name": "Bitcoin",
        "kind": "coin",
        "rank": 1,
        "categories": ["layer-1", "pow"],
    }
    assert data["b"] == {"canonicalId": "uniswap", "kind": "token"}
    assert data["c"] is None
    assert data["d"] is None


async def test_ambiguous_symbol_lists_candidates_and_never_guesses(db, api):
    await seed_symbols(db)
    body = await gql(api, '{ asset(symbol: "ACT") { canonicalId } }')
    assert body["data"] == {"asset": None}
    (err,) = body["errors"]
    assert err["extensions"]["code"] == "AMBIGUOUS_SYMBOL"
    assert err["extensions"]["candidates"] == ["achain", "act-i-the-ai-prophecy"]
    assert err["path"] == ["asset"]
    # Asking by canonical id resolves it.
    body = await gql(api, '{ asset(id: "achain") { name } }')
    assert body["data"] == {"asset": {"name": "Achain"}}


async def test_exactly_one_of_id_and_symbol(db, api):
    await seed_symbols(db)
    for query in (
        '{ asset(id: "bitcoin", symbol: "BTC") { canonicalId } }',
        "{ asset { canonicalId } }",
    ):
        body = await gql(api, query)
        assert codes(body) == ["BAD_USER_INPUT"], body
        assert "exactly one" in body["errors"][0]["message"]


async def test_node_round_trips_global_ids(db, api):
    f = await seed_symbols(db)
    eth = await f.asset("ethereum", symbol="ETH", native_chain_id="ethereum")
    await f.chain("ethereum", name="Ethereum", evm_chain_id=1, native_asset_id=eth)
    block_hash = await f.block("ethereum", 100, timestamp=datetime.now(UTC) - timedelta(minutes=1))
    body = await gql(
        api,
        """{ asset(id: "bitcoin") { id }
             chain(id: "eip155:1") { id slug nativeAsset { canonicalId } head { id hash } } }""",
    )
    assert "errors" not in body, body
    ids = [
        body["data"]["asset"]["id"],
        body["data"]["chain"]["id"],
        body["data"]["chain"]["head"]["id"],
    ]
    assert body["data"]["chain"]["slug"] == "ethereum"
    assert body["data"]["chain"]["nativeAsset"] == {"canonicalId": "ethereum"}
    # Opaque: no raw key visible in the id.
    assert all("bitcoin" not in i and "ethereum" not in i for i in ids)
    body = await gql(
        api,
        """query($a: ID!, $c: ID!, $b: ID!) {
             a: node(id: $a) { __typename id ... on Asset { canonicalId } }
             c: node(id: $c) { __typename ... on Chain { caip2 } }
             b: node(id: $b) { __typename ... on Block { number hash chainId } } }""",
        {"a": ids[0], "c": ids[1], "b": ids[2]},
    )
    assert "errors" not in body, body
    assert body["data"]["a"] == {"__typename": "Asset", "id": ids[0], "canonicalId": "bitcoin"}
    assert body["data"]["c"] == {"__typename": "Chain", "caip2": "eip155:1"}
    assert body["data"]["b"] == {
        "__typename": "Block",
        "number": 100,
        "hash": block_hash,
        "chainId": "ethereum",
    }


async def test_node_with_bad_or_unknown_ids(db, api):
    await seed_symbols(db)
    body = await gql(api, '{ node(id: "not-a-global-id") { id } }')
    assert codes(body) == ["BAD_USER_INPUT"]
    body = await gql(api, '{ asset(id: "bitcoin") { id } }')
    gid = body["data"]["asset"]["id"]
    # A well-formed id of something that does not exist is simply null.
    gone = base64.urlsafe_b64encode(b"Asset:gone").decode().rstrip("=")
    body = await gql(api, "query($i: ID!) { node(id: $i) { id } }", {"i": gone})
    assert body["data"] == {"node": None} and "errors" not in body
    assert gid != gone


async def test_chains_list_and_lookup(db, api):
    f = Factory(db.sessions)
    eth = await f.asset("ethereum", symbol="ETH", native_chain_id="ethereum")
    await f.chain("ethereum", name="Ethereum", evm_chain_id=1, native_asset_id=eth)
    await f.chain("base", name="Base", evm_chain_id=8453)
    body = await gql(
        api,
        """{ chains { slug name caip2 evmChainId nativeAsset { symbol } }
             byCaip: chain(id: "eip155:8453") { slug }
             missing: chain(id: "solana") { slug } }""",
    )
    assert "errors" not in body, body
    assert body["data"]["chains"] == [
        {
            "slug": "base",
            "name": "Base",
            "caip2": "eip155:8453",
            "evmChainId": 8453,
            "nativeAsset": None,
        },
        {
            "slug": "ethereum",
            "name": "Ethereum",
            "caip2": "eip155:1",
            "evmChainId": 1,
            "nativeAsset": {"symbol": "ETH"},
        },
    ]
    assert body["data"]["byCaip"] == {"slug": "base"}
    assert body["data"]["missing"] is None
