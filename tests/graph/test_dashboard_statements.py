"""N+1 guard: the dashboard query's SQL statement count does not grow with N."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from storage.models import Asset, AssetCategory, Candle, Quote, SignalValue
from tests.conftest import gql

DASHBOARD = """query Dashboard($n: Int!) {
  assets(first: $n, orderBy: {field: MARKET_CAP}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id canonicalId symbol name kind rank categories
      price { value observedAt ageSeconds stale sourceCount spread method outliers
              sources { source price originalQuote observedAt ageSeconds stale used
                        conversion { rate } } }
      market { marketCap volume24h change1h change24h change7d source observedAt }
      signals { kind value direction horizon computedAt source }
      grade { value components { name score weight } computedAt source }
      candles(interval: "1h", last: 24) { openTime close volume isComplete source }
    } }
  }
}"""


async def seed_dashboard(db, n_assets: int) -> datetime:
    """`n_assets` assets, each with 3 sources (one quoting USDT), signals, a grade and
    30 hours of hourly candles; tether for the USDT conversion. Bulk inserts."""
    now = datetime.now(UTC)
    async with db.sessions() as s:
        await s.execute(
            insert(Asset),
            [{"canonical_id": "tether", "symbol": "USDT", "name": "Tether", "kind": "stablecoin"}]
            + [
                {"canonical_id": f"coin-{i}", "symbol": f"C{i}", "name": f"Coin {i}", "rank": i}
                for i in range(n_assets)
            ],
        )
        await s.commit()
        ids = list(range(2, n_assets + 2))  # tether is id 1
        await s.execute(
            insert(AssetCategory), [{"asset_id": i, "category": "layer-1"} for i in ids]
        )
        quotes = [
            {
                "source": src,
                "asset_id": 1,
                "quote_currency": "USD",
                "price": p,
                "observed_at": now - timedelta(seconds=20),
            }
            for src, p in (("coingecko", "0.999"), ("kraken", "1.0002"))
        ]
        for i in ids:
            for src, cur, price, age in (
                ("coingecko", "USD", 100 + i, 30),
                ("coinbase", "USD", 100.5 + i, 10),
                ("binance", "USDT", 100.2 + i, 5),
            ):
                quotes.append(
                    {
                        "source": src,
                        "asset_id": i,
                        "quote_currency": cur,
                        "price": str(price),
                        "market_cap": str(1000 * i) if src == "coingecko" else None,
                        "volume_24h": "5000",
                        "change_24h": "1.5",
                        "observed_at": now - timedelta(seconds=age),
                    }
                )
        await s.execute(insert(Quote), quotes)
        signals = []
        for i in ids:
            for kind, value in (("rsi", "55.5"), ("macd", "0.3"), ("trader_grade", "71.25")):
                signals.append(
                    {
                        "source": "cryptoql",
                        "asset_id": i,
                        "kind": kind,
                        "value": value,
                        "direction": "bullish",
                        "horizon": "1h",
                        "computed_at": now - timedelta(minutes=30),
                        "details": {
                            "trend": "80",
                            "momentum": "55.5",
                            "weights": {"trend": "0.6", "momentum": "0.4"},
                        },
                    }
                )
        await s.execute(insert(SignalValue), signals)
        start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=29)
        candles = [
            {
                "source": "binance",
                "asset_id": i,
                "quote_currency": "USD",
                "interval": "1h",
                "open_time": start + timedelta(hours=h),
                "open": "1",
                "high": "2",
                "low": "0.5",
                "close": "1.5",
                "volume": "10",
                "is_complete": h < 29,
            }
            for i in ids
            for h in range(30)
        ]
        await s.execute(insert(Candle), candles)
        await s.commit()
    return now


async def run_dashboard(served, n: int) -> tuple[int, dict]:
    with served.statements() as counter:
        body = await gql(served.client, DASHBOARD, {"n": n})
    assert "errors" not in body, body["errors"][:2]
    return counter.count, body


async def test_statement_count_is_the_same_for_10_and_100_assets(db, uncapped):
    await seed_dashboard(db, 100)
    small, body10 = await run_dashboard(uncapped, 10)
    large, body100 = await run_dashboard(uncapped, 100)
    print(f"dashboard statements: N=10 -> {small}, N=100 -> {large}")
    assert small == large, (small, large)
    # A handful of batched statements, not one per asset or per field.
    assert small <= 12, small

    edges = body100["data"]["assets"]["edges"]
    assert len(edges) == 100
    assert body100["data"]["assets"]["totalCount"] == 101
    top = edges[0]["node"]
    assert top["canonicalId"] == "coin-99"  # largest market cap first
    assert top["price"]["sourceCount"] == 3
    binance = next(s for s in top["price"]["sources"] if s["source"] == "binance")
    assert binance["originalQuote"] == "USDT" and binance["conversion"]["rate"] == "0.9996"
    assert top["market"]["source"] == "coingecko"
    assert {s["kind"] for s in top["signals"]} == {"rsi", "macd", "trader_grade"}
    assert top["grade"]["value"] == "71.25"
    assert top["grade"]["components"] == [
        {"name": "momentum", "score": "55.5", "weight": "0.4"},
        {"name": "trend", "score": "80", "weight": "0.6"},
    ]
    sparkline = top["candles"]
    assert len(sparkline) == 24
    assert [c["isComplete"] for c in sparkline] == [True] * 23 + [False]
    # The first ten of the large page are the small page.
    first10 = [e["node"]["canonicalId"] for e in edges[:10]]
    assert first10 == [e["node"]["canonicalId"] for e in body10["data"]["assets"]["edges"]]
