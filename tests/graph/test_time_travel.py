"""asOf: values as they stood at an instant, carried down the tree from the root."""

from datetime import UTC, datetime, timedelta

from tests.conftest import gql
from tests.factories import Factory

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


async def seed(db):
    f = Factory(db.sessions)
    btc = await f.asset("bitcoin", symbol="BTC")
    eth = await f.asset("ethereum", symbol="ETH")
    for minutes, price, cap in ((0, "100", "1000"), (10, "110", "1100"), (20, "120", "1200")):
        await f.quote(btc, "coingecko", price, observed_at=at(minutes), market_cap=cap)
        await f.quote(btc, "coinbase", str(int(price) + 2), observed_at=at(minutes + 1))
    await f.quote(eth, "coingecko", "50", observed_at=at(0), market_cap="1150")
    await f.signal(btc, "rsi", "30", computed_at=at(5))
    await f.signal(btc, "rsi", "70", computed_at=at(15))
    await f.signal(btc, "trader_grade", "20", computed_at=at(5))
    await f.signal(btc, "trader_grade", "80", computed_at=at(15))
    await f.candles(btc, "1m", at(0), [(k, k, k, k, 1) for k in range(1, 31)])
    return f


Q = """query($t: DateTime) {
  asset(id: "bitcoin", asOf: $t) {
    asOf
    price { value ageSeconds stale sources { source price ageSeconds stale } }
    market { marketCap observedAt ageSeconds }
    signals(kinds: ["rsi"]) { value computedAt ageSeconds }
    grade { value }
    candles(interval: "5m", last: 2) { openTime close isComplete }
  }
}"""


async def test_values_as_they_stood_with_ages_against_as_of(db, api):
    await seed(db)
    body = await gql(api, Q, {"t": at(12).isoformat()})
    assert "errors" not in body, body
    a = body["data"]["asset"]
    assert a["asOf"] == at(12).isoformat()
    assert a["price"]["value"] == "111"  # median(110 @10, 112 @11)
    assert a["price"]["ageSeconds"] == 60
    assert {s["source"]: s["ageSeconds"] for s in a["price"]["sources"]} == {
        "coinbase": 60,
        "coingecko": 120,
    }
    assert a["price"]["stale"] is False
    assert a["market"] == {
        "marketCap": "1100",
        "observedAt": at(10).isoformat(),
        "ageSeconds": 120,
    }
    assert a["signals"] == [{"value": "30", "computedAt": at(5).isoformat(), "ageSeconds": 420}]
    assert a["grade"] == {"value": "20"}
    # 5m buckets at 12:12: 12:05 (complete) and 12:10 (only 12:10 and 12:11 had closed).
    assert a["candles"] == [
        {"openTime": at(5).isoformat(), "close": "10", "isComplete": True},
        {"openTime": at(10).isoformat(), "close": "12", "isComplete": False},
    ]


async def test_staleness_is_measured_against_as_of(db, api):
    await seed(db)
    body = await gql(api, Q, {"t": at(60).isoformat()})
    p = body["data"]["asset"]["price"]
    assert p["stale"] is True and p["value"] == "121"  # last known, flagged
    assert all(s["stale"] for s in p["sources"])


async def test_two_roots_with_different_instants_in_one_document(db, api):
    await seed(db)
    body = await gql(
        api,
        """query($a: DateTime, $b: DateTime) {
             before: asset(id: "bitcoin", asOf: $a) { price { value } grade { value } }
             after: asset(id: "bitcoin", asOf: $b) { price { value } grade { value } }
             list: assets(asOf: $a, first: 2) { nodes { canonicalId price { value } } }
             later: assets(asOf: $b, first: 2) { nodes { canonicalId } } }""",
        {"a": at(2).isoformat(), "b": at(25).isoformat()},
    )
    assert "errors" not in body, body
    d = body["data"]
    assert d["before"] == {"price": {"value": "101"}, "grade": None}
    assert d["after"] == {"price": {"value": "121"}, "grade": {"value": "80"}}
    # Ordering by market cap uses the figures at each instant: 1000 < 1150 then 1200 > 1150.
    assert [n["canonicalId"] for n in d["list"]["nodes"]] == ["ethereum", "bitcoin"]
    assert d["list"]["nodes"][1]["price"] == {"value": "101"}
    assert [n["canonicalId"] for n in d["later"]["nodes"]] == ["bitcoin", "ethereum"]


async def test_future_or_naive_as_of_is_refused(db, api):
    await seed(db)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for value, message in ((future, "in the future"), ("2024-06-01T12:00:00", "timezone")):
        for query in (
            'query($t: DateTime) { asset(id: "bitcoin", asOf: $t) { symbol } }',
            "query($t: DateTime) { assets(asOf: $t) { totalCount } }",
        ):
            body = await gql(api, query, {"t": value})
            (err,) = body["errors"]
            assert err["extensions"]["code"] == "BAD_USER_INPUT", err
            assert message in err["message"]
