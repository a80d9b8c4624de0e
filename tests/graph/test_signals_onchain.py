"""Signals and grade, chains (head, blocks, gas, metrics) and asset on-chain facts."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.conftest import gql
from tests.factories import Factory


def ago(**kw):
    return datetime.now(UTC) - timedelta(**kw)


async def test_signals_latest_per_kind_with_provenance_and_grade_components(db, api):
    f = Factory(db.sessions)
    btc = await f.asset("bitcoin", symbol="BTC")
    await f.signal(btc, "rsi", "40", direction="neutral", computed_at=ago(hours=2))
    await f.signal(btc, "rsi", "71.5", direction="bearish", computed_at=ago(hours=1))
    await f.signal(btc, "macd", "-0.25", direction="bearish", computed_at=ago(minutes=90))
    await f.signal(
        btc,
        "tm_signal",
        "1",
        direction="bullish",
        source="tokenmetrics",
        horizon="1d",
        computed_at=ago(hours=3),
    )
    await f.signal(btc, "old_kind", "1", computed_at=ago(days=10))  # beyond the look-back
    details = {
        "trend": "80.5",
        "momentum": "60",
        "macd": "45",
        "stability": "90",
        "weights": {"trend": "0.35", "momentum": "0.25", "macd": "0.25", "stability": "0.15"},
        "formula": "cryptoql trader grade v1",
    }
    await f.signal(
        btc, "trader_grade", "67.93", direction="bullish", computed_at=ago(hours=1), details=details
    )
    body = await gql(
        api,
        """{ asset(id: "bitcoin") {
             signals { kind value direction horizon computedAt ageSeconds source }
             only: signals(kinds: ["macd", "nope"]) { kind }
             grade { value direction horizon source computedAt ageSeconds
                     components { name score weight } } } }""",
    )
    assert "errors" not in body, body
    a = body["data"]["asset"]
    assert [s["kind"] for s in a["signals"]] == ["macd", "rsi", "tm_signal", "trader_grade"]
    rsi = a["signals"][1]
    assert (rsi["value"], rsi["direction"], rsi["source"], rsi["horizon"]) == (
        "71.5",
        "BEARISH",
        "cryptoql",
        "1h",
    )
    assert 3500 <= rsi["ageSeconds"] <= 3700
    assert a["signals"][2]["source"] == "tokenmetrics"
    assert a["only"] == [{"kind": "macd"}]
    g = a["grade"]
    assert (g["value"], g["direction"], g["source"]) == ("67.93", "BULLISH", "cryptoql")
    assert g["components"] == [
        {"name": "macd", "score": "45", "weight": "0.25"},
        {"name": "momentum", "score": "60", "weight": "0.25"},
        {"name": "stability", "score": "90", "weight": "0.15"},
        {"name": "trend", "score": "80.5", "weight": "0.35"},
    ]
    # The grade really is the weighted sum of its components.
    total = sum(Decimal(c["score"]) * Decimal(c["weight"]) for c in g["components"])
    assert abs(total - Decimal(g["value"])) < Decimal("0.01")


async def seed_chain(db):
    f = Factory(db.sessions)
    eth = await f.asset("ethereum", symbol="ETH", native_chain_id="ethereum")
    usdc = await f.asset("usd-coin", symbol="USDC", kind="stablecoin")
    await f.chain("ethereum", name="Ethereum", evm_chain_id=1, native_asset_id=eth)
    await f.chain("base", name="Base", evm_chain_id=8453)
    token = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
    await f.contract(usdc, "ethereum", token, decimals=6)
    await f.contract(usdc, "base", "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913", decimals=6)
    for n in range(1, 8):
        await f.block(
            "ethereum", n, timestamp=ago(seconds=12 * (8 - n)), base_fee=1_000_000_000 * n
        )
    # A reorged-out block at the top must never be the head.
    await f.block("ethereum", 8, hash="0x" + "f" * 64, timestamp=ago(seconds=1), canonical=False)
    for k in range(6):
        await f.metric("ethereum", "base_fee", 10 + k, ts=ago(minutes=50 - 10 * k))
        await f.metric("ethereum", "tx_count", 100 * (k + 1), ts=ago(minutes=50 - 10 * k))
    values = ["1500000", "250000000000", "42", "7000000"]  # raw, 6 decimals
    for i, v in enumerate(values):
        await f.transfer("ethereum", token, v, timestamp=ago(hours=i + 1), block_number=i + 1)
    await f.transfer("ethereum", token, "999999999999", timestamp=ago(days=3))  # outside 24 h
    return token.lower()


async def test_chain_head_blocks_gas_and_metrics(db, api, uncapped_api):
    await seed_chain(db)
    body = await gql(
        api,
        """{ chain(id: "ethereum") {
             head { number canonical source }
             gas { baseFee priorityFeeP10 priorityFeeP50 priorityFeeP90 observedAt ageSeconds
                   source block { number } }
             latestMetrics { kind value source observedAt }
             metrics(kind: "tx_count", last: 3) { value count interval }
             hourly: metrics(kind: "base_fee", interval: "1h", last: 2, aggregate: MEAN) {
               value count interval observedAt }
             page1: blocks(first: 3) { nodes { number } pageInfo { hasNextPage endCursor } }
           } }""",
    )
    assert "errors" not in body, body
    c = body["data"]["chain"]
    assert c["head"] == {"number": 7, "canonical": True, "source": "rpc"}
    gas = c["gas"]
    assert gas["baseFee"] == "7000000000" and gas["block"] == {"number": 7}
    assert (gas["priorityFeeP10"], gas["priorityFeeP50"], gas["priorityFeeP90"]) == (
        "1000000",
        "1500000000",
        "3000000000",
    )
    assert gas["source"] == "rpc" and gas["ageSeconds"] <= 60
    latest = {m["kind"]: m["value"] for m in c["latestMetrics"]}
    assert latest == {"base_fee": "15", "tx_count": "600"}
    assert [m["value"] for m in c["metrics"]] == ["400", "500", "600"]
    assert {m["count"] for m in c["metrics"]} == {1}
    hourly = c["hourly"]
    assert sum(m["count"] for m in hourly) == 6 and {m["interval"] for m in hourly} == {"1h"}
    all_points = [Decimal(10 + k) for k in range(6)]
    weighted = sum(Decimal(m["value"]) * m["count"] for m in hourly)
    assert weighted == sum(all_points)
    assert [n["number"] for n in c["page1"]["nodes"]] == [7, 6, 5]
    assert c["page1"]["pageInfo"]["hasNextPage"] is True

    cursor = c["page1"]["pageInfo"]["endCursor"]
    body = await gql(
        api,
        'query($a: String) { chain(id: "ethereum") { blocks(first: 10, after: $a) '
        "{ nodes { number } pageInfo { hasNextPage hasPreviousPage } } } }",
        {"a": cursor},
    )
    page = body["data"]["chain"]["blocks"]
    assert [n["number"] for n in page["nodes"]] == [4, 3, 2, 1]
    assert page["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}
    # A block cursor of one chain is refused by another.
    body = await gql(
        api,
        'query($a: String) { chain(id: "base") { blocks(after: $a) { nodes { number } } } }',
        {"a": cursor},
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql(api, '{ chain(id: "ethereum") { blocks(first: 101) { nodes { number } } } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    # Buckets from `from` (no `last`): the whole range, and an explicit error past 1000.
    since = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    body = await gql(
        api,
        'query($f: DateTime) { chain(id: "ethereum") { '
        'm: metrics(kind: "tx_count", interval: "1h", from: $f, aggregate: SUM) { value count } '
        "} }",
        {"f": since.isoformat()},
    )
    assert "errors" not in body, body
    assert sum(Decimal(p["value"]) for p in body["data"]["chain"]["m"]) == 2100
    for args, message in (
        ('interval: "1m", from: "2020-01-01T00:00:00Z"', "at most 1000"),
        ('interval: "7m"', "unknown interval"),
        ("last: 0", "between 1 and 1000"),
    ):
        body = await gql(  # uncapped: the cost limit would refuse the huge range first
            uncapped_api,
            f'{{ chain(id: "ethereum") {{ metrics(kind: "tx_count", {args}) {{ value }} }} }}',
        )
        (err,) = body["errors"]
        assert err["extensions"]["code"] == "BAD_USER_INPUT" and message in err["message"], err


async def test_asset_contracts_and_onchain_activity(db, api):
    token = await seed_chain(db)
    body = await gql(
        api,
        """{ usdc: asset(id: "usd-coin") {
               contracts { chainId address decimals chain { caip2 } }
               onchain { nativeChain { slug } chainMetrics { kind }
                 tokens { contract { chainId address } transferCount transferVolume
                          lastTransferAt windowStart windowEnd
                          largestTransfers(first: 2) { value rawValue from to txHash
                                                       blockNumber timestamp source } } } }
             eth: asset(id: "ethereum") {
               contracts { address }
               onchain { nativeChain { slug head { number } } chainMetrics { kind value }
                         tokens { transferCount } } } }""",
    )
    assert "errors" not in body, body
    usdc = body["data"]["usdc"]
    assert usdc["contracts"] == [
        {
            "chainId": "base",
            "address": "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913",
            "decimals": 6,
            "chain": {"caip2": "eip155:8453"},
        },
        {"chainId": "ethereum", "address": token, "decimals": 6, "chain": {"caip2": "eip155:1"}},
    ]
    assert usdc["onchain"]["nativeChain"] is None and usdc["onchain"]["chainMetrics"] == []
    base, mainnet = usdc["onchain"]["tokens"]
    assert base["transferCount"] == 0 and base["transferVolume"] == "0"
    assert mainnet["contract"] == {"chainId": "ethereum", "address": token}
    assert mainnet["transferCount"] == 4
    # 1.5 + 250000 + 0.000042 + 7 tokens, exactly.
    assert mainnet["transferVolume"] == "250008.500042"
    big, second = mainnet["largestTransfers"]
    assert (big["value"], big["rawValue"]) == ("250000", "250000000000")
    assert second["value"] == "7"
    assert big["source"] == "rpc" and big["from"].startswith("0x")
    eth = body["data"]["eth"]
    assert eth["contracts"] == [] and eth["onchain"]["tokens"] == []
    assert eth["onchain"]["nativeChain"] == {"slug": "ethereum", "head": {"number": 7}}
    assert {m["kind"] for m in eth["onchain"]["chainMetrics"]} == {"base_fee", "tx_count"}
