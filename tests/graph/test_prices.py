"""Consensus prices end to end: median, outliers, staleness, USDT conversion, market."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.main import create_app
from tests.conftest import gql, make_settings, running_app
from tests.factories import Factory

PRICE = """query($id: String!, $quote: String! = "USD") {
  asset(id: $id) {
    price(quote: $quote) {
      value quote observedAt ageSeconds stale sourceCount spread method outliers
      sources {
        source price quote originalQuote originalPrice observedAt ageSeconds stale used
        excludedReason
        conversion { fromQuote toQuote rate rateObservedAt rateStale }
      }
    }
  }
}"""


def ago(seconds):
    return datetime.now(UTC) - timedelta(seconds=seconds)


def price_of(body):
    assert "errors" not in body, body
    return body["data"]["asset"]["price"]


def by_source(price):
    return {s["source"]: s for s in price["sources"]}


async def test_median_of_fresh_sources_with_outlier_named(db, api):
    f = Factory(db.sessions)
    btc = await f.asset("bitcoin", symbol="BTC")
    await f.quote(btc, "coingecko", "64000.10", observed_at=ago(20))
    await f.quote(btc, "coinbase", "64010.30", observed_at=ago(5))
    await f.quote(btc, "kraken", "63990", observed_at=ago(40))
    await f.quote(btc, "badfeed", "70500", observed_at=ago(3))  # 10 % off: an outlier
    # An older coinbase quote must not count: only each source's latest is used.
    await f.quote(btc, "coinbase", "1", observed_at=ago(100))
    p = price_of(await gql(api, PRICE, {"id": "bitcoin"}))
    assert Decimal(p["value"]) == Decimal("64000.1")
    assert p["method"] == "MEDIAN"
    assert p["sourceCount"] == 3
    assert p["outliers"] == ["badfeed"]
    assert Decimal(p["spread"]) == round((Decimal("64010.3") - 63990) / Decimal("64000.1"), 12)
    assert p["stale"] is False
    src = by_source(p)
    assert src["badfeed"]["used"] is False and src["badfeed"]["excludedReason"] == "OUTLIER"
    assert src["coinbase"]["price"] == "64010.3" and src["coinbase"]["used"] is True
    assert src["coinbase"]["excludedReason"] is None
    # Provenance: every per-source value names its source and observation time.
    for s in p["sources"]:
        assert s["source"] and s["observedAt"] and isinstance(s["ageSeconds"], int)
    # observedAt is the newest quote used (coinbase, 5 s), not the outlier's (3 s).
    assert datetime.fromisoformat(src["coinbase"]["observedAt"]) == datetime.fromisoformat(
        p["observedAt"]
    )
    assert 4 <= p["ageSeconds"] <= 60


async def test_stale_sources_are_excluded_and_all_stale_falls_back_flagged(db, api):
    f = Factory(db.sessions)
    eth = await f.asset("ethereum", symbol="ETH")
    await f.quote(eth, "coingecko", "3000", observed_at=ago(30))
    await f.quote(eth, "coinbase", "2900", observed_at=ago(1200))  # 20 min: stale at 300 s
    p = price_of(await gql(api, PRICE, {"id": "ethereum"}))
    assert p["value"] == "3000" and p["method"] == "SINGLE_SOURCE" and p["stale"] is False
    cb = by_source(p)["coinbase"]
    assert cb["stale"] is True and cb["used"] is False and cb["excludedReason"] == "STALE"

    sol = await f.asset("solana", symbol="SOL")
    await f.quote(sol, "coingecko", "150", observed_at=ago(3600))
    await f.quote(sol, "coinbase", "152", observed_at=ago(7200))
    p = price_of(await gql(api, PRICE, {"id": "solana"}))
    assert p["stale"] is True
    assert p["method"] == "LAST_KNOWN"
    assert p["value"] == "151"
    assert all(s["stale"] and s["used"] for s in p["sources"])
    assert p["ageSeconds"] >= 3600

    # Quotes older than the longest look-back are not shown at all.
    old = await f.asset("old-coin", symbol="OLD")
    await f.quote(old, "coingecko", "1", observed_at=ago(8 * 86400))
    body = await gql(api, PRICE, {"id": "old-coin"})
    assert body["data"]["asset"]["price"] is None


async def test_per_source_staleness_override(db):
    f = Factory(db.sessions)
    btc = await f.asset("bitcoin", symbol="BTC")
    await f.quote(btc, "coingecko", "100", observed_at=ago(400))
    await f.quote(btc, "binance", "101", observed_at=ago(20), quote_currency="USD")
    settings = make_settings(db.url, stale_after_seconds_by_source={"coingecko": 600})
    async with running_app(create_app(settings)) as client:
        p = price_of(await gql(client, PRICE, {"id": "bitcoin"}))
    assert p["value"] == "100.5" and p["sourceCount"] == 2
    assert by_source(p)["coingecko"]["stale"] is False


async def test_usdt_quotes_are_converted_at_tethers_usd_price_never_one_to_one(db, api):
    f = Factory(db.sessions)
    usdt = await f.asset("tether", symbol="USDT", kind="stablecoin")
    btc = await f.asset("bitcoin", symbol="BTC")
    # Tether's own USD consensus (median of 0.998 and 0.999 = 0.9985) is the rate.
    await f.quote(usdt, "coingecko", "0.998", observed_at=ago(30))
    await f.quote(usdt, "kraken", "0.999", observed_at=ago(60))
    await f.quote(btc, "coingecko", "64000", observed_at=ago(10))
    await f.quote(btc, "binance", "64100", quote_currency="USDT", observed_at=ago(2))
    # A source with both a USD and a USDT quote uses its USD one.
    await f.quote(btc, "coinbase", "64050", observed_at=ago(5))
    await f.quote(btc, "coinbase", "64999", quote_currency="USDT", observed_at=ago(1))
    p = price_of(await gql(api, PRICE, {"id": "bitcoin"}))
    src = by_source(p)
    binance = src["binance"]
    assert binance["originalQuote"] == "USDT" and binance["originalPrice"] == "64100"
    conv = binance["conversion"]
    assert conv["fromQuote"] == "USDT" and conv["toQuote"] == "USD"
    assert conv["rate"] == "0.9985" and conv["rateStale"] is False
    assert datetime.fromisoformat(conv["rateObservedAt"]) < datetime.now(UTC)
    assert Decimal(binance["price"]) == Decimal("64100") * Decimal("0.9985")
    assert src["coinbase"]["originalQuote"] == "USD" and src["coinbase"]["conversion"] is None
    assert src["coinbase"]["price"] == "64050"
    assert Decimal(p["value"]) == Decimal("64003.85")  # median(64000, 64050, 64003.85)

    # The other way round: a USDT price converts USD quotes by 1 / 0.9985.
    p = price_of(await gql(api, PRICE, {"id": "bitcoin", "quote": "usdt"}))
    assert p["quote"] == "USDT"
    src = by_source(p)
    assert src["binance"]["price"] == "64100" and src["binance"]["conversion"] is None
    assert src["coingecko"]["conversion"]["fromQuote"] == "USD"
    rate = Decimal(src["coingecko"]["conversion"]["rate"])
    assert rate == (Decimal(1) / Decimal("0.9985")).quantize(Decimal("1e-18"))
    assert Decimal(src["coingecko"]["price"]) == (Decimal(64000) * rate).quantize(Decimal("1e-18"))


async def test_without_a_rate_a_usdt_quote_is_listed_but_not_used(db, api):
    f = Factory(db.sessions)
    btc = await f.asset("bitcoin", symbol="BTC")
    await f.quote(btc, "binance", "64100", quote_currency="USDT", observed_at=ago(2))
    await f.quote(btc, "coingecko", "64000", observed_at=ago(10))
    await f.quote(btc, "bitstamp", "59000", quote_currency="EUR", observed_at=ago(10))
    p = price_of(await gql(api, PRICE, {"id": "bitcoin"}))
    assert p["value"] == "64000"
    binance = by_source(p)["binance"]
    assert binance["price"] is None and binance["used"] is False
    assert binance["excludedReason"] == "NO_CONVERSION_RATE"
    assert "bitstamp" not in by_source(p)  # EUR has no conversion path at all

    body = await gql(api, PRICE, {"id": "bitcoin", "quote": "not a code"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_market_figures_with_provenance(db, api):
    f = Factory(db.sessions)
    btc = await f.asset("bitcoin", symbol="BTC")
    await f.quote(
        btc,
        "coingecko",
        "64000",
        observed_at=ago(60),
        market_cap="1260000000000.25",
        volume_24h="35000000000",
        change_1h="0.1",
        change_24h="-2.5",
        change_7d="4",
        circulating_supply="19700000",
        total_supply="21000000",
        max_supply="21000000",
    )
    await f.quote(btc, "binance", "64010", observed_at=ago(1), volume_24h="9")  # no cap
    body = await gql(
        api,
        """{ asset(id: "bitcoin") { market { quote marketCap volume24h change1h change24h
             change7d circulatingSupply totalSupply maxSupply source observedAt ageSeconds
             stale } } }""",
    )
    assert "errors" not in body, body
    m = body["data"]["asset"]["market"]
    assert m["source"] == "coingecko" and m["quote"] == "USD"
    assert m["marketCap"] == "1260000000000.25"
    assert (m["volume24h"], m["change1h"], m["change24h"], m["change7d"]) == (
        "35000000000",
        "0.1",
        "-2.5",
        "4",
    )
    assert (m["circulatingSupply"], m["totalSupply"], m["maxSupply"]) == (
        "19700000",
        "21000000",
        "21000000",
    )
    assert m["stale"] is False and 59 <= m["ageSeconds"] <= 120
    assert datetime.fromisoformat(m["observedAt"]).tzinfo is not None

    body = await gql(api, '{ asset(id: "bitcoin") { market(quote: "EUR") { source } } }')
    assert body["data"]["asset"]["market"] is None
