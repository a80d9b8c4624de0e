"""Canonical identity from the sources' mapping data and the override file."""

from __future__ import annotations

import json

import pytest

from sources.identity import Overrides, build_registry
from sources.records import AssetPlatform, CoinListing, ExchangeMarket, ExchangeTicker
from tests.sources.support import load

USDC_ETH = "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
WETH_ARB = "eip155:42161/erc20:0x82af49447d8a07e3bd95bd0d56f35241523fbab1"


def listings():
    out = []
    for row in load("coingecko/coins_list.json")["body"]:
        platforms = row.get("platforms")
        if "name" not in row or not isinstance(platforms, dict):
            continue  # the adapter quarantines these
        pairs = tuple(sorted((k, v) for k, v in platforms.items() if k and v))
        out.append(CoinListing(row["id"], row["symbol"], row["name"], pairs))
    return out


def platforms():
    return [
        AssetPlatform(
            r["id"], r["chain_identifier"], r["name"], r["shortname"], r["native_coin_id"]
        )
        for r in load("coingecko/asset_platforms.json")["body"]
    ]


def tickers():
    return [
        ExchangeTicker(
            t["market"]["identifier"], t["base"], t["target"], t["coin_id"], t["target_coin_id"]
        )
        for t in load("coingecko/coins_tickers_binance.json")["body"]["tickers"]
    ]


def binance_markets():
    return [
        ExchangeMarket("binance", s["symbol"], s["baseAsset"], s["quoteAsset"], s["status"])
        for s in load("binance/exchange_info.json")["body"]["symbols"]
        if "baseAsset" in s
    ]


def coinbase_markets():
    return [
        ExchangeMarket(
            "coinbase", p["product_id"], p["base_currency_id"], p["quote_currency_id"], p["status"]
        )
        for p in load("coinbase/products.json")["body"]["products"]
    ]


@pytest.fixture(scope="module")
def plan():
    return build_registry(
        listings(),
        platforms(),
        binance_markets() + coinbase_markets(),
        tickers(),
        Overrides.load(),
    )


def test_canonical_ids_are_coingecko_ids_with_caip19_aliases(plan):
    ids = {a.canonical_id for a in plan.assets}
    assert {"bitcoin", "ethereum", "usd-coin", "tether", "weth"} <= ids
    aliases = {(a.source, a.external_id): a.canonical_id for a in plan.aliases}
    assert aliases[("coingecko", "usd-coin")] == "usd-coin"
    assert aliases[("caip19", USDC_ETH)] == "usd-coin"  # lower-cased EVM address
    assert aliases[("caip19", "eip155:1/slip44:60")] == "ethereum"  # native, from overrides
    assert aliases[("caip19", "bip122:000000000019d6689c085ae165831e93/slip44:0")] == "bitcoin"
    assert aliases[("tokenmetrics", "3375")] == "bitcoin"  # only through the override file


def test_contracts_per_chain_from_platforms(plan):
    usdc = {(c.chain_id, c.caip19) for c in plan.contracts if c.canonical_id == "usd-coin"}
    assert ("ethereum", USDC_ETH) in usdc
    assert ("arbitrum-one", "eip155:42161/erc20:0xaf88d065e77c8cc2239327c5edb3a432268e5831") in usdc
    # Solana has no chain_identifier: its CAIP-2 comes from the override file, address case kept.
    assert (
        "solana",
        "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp/token:EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
    ) in usdc
    decimals = {c.caip19: c.decimals for c in plan.contracts}
    assert decimals[USDC_ETH] == 6
    chains = {c.id: c for c in plan.chains}
    assert chains["arbitrum-one"].caip2 == "eip155:42161"
    assert chains["bitcoin"].caip2.startswith("bip122:")
    assert "tron" not in chains


def test_native_coins_are_coins_on_their_home_chain(plan):
    assets = {a.canonical_id: a for a in plan.assets}
    # arbitrum-one also names ethereum as native; the home chain is "ethereum"
    assert assets["ethereum"].native_chain_id == "ethereum"
    assert assets["ethereum"].kind == "coin"
    assert assets["matic-network"].native_chain_id == "polygon-pos"
    assert assets["matic-network"].kind == "coin"  # native even though it has an ERC-20
    assert assets["weth"].kind == "token"
    assert assets["tether"].kind == "stablecoin"  # override


def test_bridged_tokens_stay_separate_assets(plan):
    contracts = {c.caip19: c.canonical_id for c in plan.contracts}
    usdc_e = "eip155:137/erc20:0x2791bca1f2de4661ed88a30c99a7a9449aa84174"
    assert contracts[usdc_e] == "bridged-usdc-polygon-pos-bridge"
    assert contracts["eip155:137/erc20:0x3c499c542cef5e3811e1192ce70d8cc03d5c3359"] == "usd-coin"


def test_a_contract_claimed_by_two_ids_is_reported_not_guessed(plan):
    assert WETH_ARB not in {c.caip19 for c in plan.contracts}
    (issue,) = [u for u in plan.unresolved_of("contract") if u.key == WETH_ARB]
    assert issue.candidates == ("arbitrum-bridged-weth-arbitrum-one", "weth")


def test_the_override_file_settles_a_contract_conflict():
    overrides = Overrides.from_dict({"contracts": {WETH_ARB.upper().replace("EIP", "eip"): "weth"}})
    plan = build_registry(listings(), platforms(), overrides=overrides)
    contracts = {c.caip19: c.canonical_id for c in plan.contracts}
    assert contracts[WETH_ARB] == "weth"
    assert not [u for u in plan.unresolved_of("contract") if u.key == WETH_ARB]


def test_platforms_without_chain_mapping_are_reported_once(plan):
    platform_issues = {u.key: u.reason for u in plan.unresolved_of("platform")}
    assert "tron" in platform_issues
    assert "CAIP-2" in platform_issues["tron"]
    assert "hyperchain-x" in platform_issues
    assert "not in /asset_platforms" in platform_issues["hyperchain-x"]


def test_same_symbol_different_ids_stay_ambiguous(plan):
    assert plan.ambiguous_symbols["UNI"] == ("unicorn-fart-token", "uniswap")
    assert plan.ambiguous_symbols["WETH"] == ("arbitrum-bridged-weth-arbitrum-one", "weth")
    assert plan.preferred_symbols["UNI"] == "uniswap"  # override file, not popularity
    assert "WETH" not in plan.preferred_symbols


def test_exchange_markets_resolve_base_and_explicit_quote(plan):
    markets = {(m.source, m.symbol): m for m in plan.markets}
    btcusdt = markets[("binance", "BTCUSDT")]
    assert (btcusdt.base_canonical_id, btcusdt.quote_currency) == ("bitcoin", "USDT")
    assert btcusdt.quote_canonical_id == "tether"  # USDT is an asset, not USD
    assert btcusdt.quote_is_fiat is False
    btceur = markets[("binance", "BTCEUR")]
    assert btceur.quote_is_fiat
    assert btceur.quote_canonical_id is None
    btcusd = markets[("coinbase", "BTC-USD")]
    assert btcusd.quote_currency == "USD"
    assert btcusd.quote_is_fiat
    cb_usdt = markets[("coinbase", "BTC-USDT")]
    assert cb_usdt.quote_currency == "USDT"
    assert cb_usdt.quote_canonical_id == "tether"
    assert markets[("coinbase", "ETH-USDC")].quote_canonical_id == "usd-coin"
    # UNI resolves through the tickers bridge (coin_id=uniswap), not through the symbol.
    assert markets[("binance", "UNIUSDT")].base_canonical_id == "uniswap"
    assert markets[("binance", "ETHBTC")].quote_canonical_id == "bitcoin"
    assert markets[("binance", "BTCXYZ")].active is False


def test_ambiguous_or_unmapped_exchange_codes_are_reported(plan):
    markets = {(m.source, m.symbol) for m in plan.markets}
    issues = {(u.source, u.key): u for u in plan.unresolved if u.kind in ("market", "quote")}
    # The bridge says Binance's WETH is two different CoinGecko ids: not guessed.
    assert ("binance", "WETHUSDT") not in markets
    assert issues[("binance", "WETHUSDT")].candidates == (
        "arbitrum-bridged-weth-arbitrum-one",
        "weth",
    )
    # PEPE has no bridge row and no override: unresolved even though a "pepe" symbol may exist.
    assert ("binance", "PEPEUSDT") not in markets
    assert "no mapping data" in issues[("binance", "PEPEUSDT")].reason
    assert issues[("binance", "BTCXYZ")].kind == "quote"
    assert ("coinbase", "OLD-USD") in issues


def test_nothing_is_matched_on_ticker_alone():
    # A coin list whose only "evidence" for an exchange code is a matching symbol.
    coins = [CoinListing("pepe", "pepe", "Pepe"), CoinListing("bitcoin", "btc", "Bitcoin")]
    markets = [ExchangeMarket("binance", "PEPEUSDT", "PEPE", "USDT")]
    plan = build_registry(coins, [], markets, [], Overrides())
    assert plan.markets == ()
    assert plan.unresolved_of("market")[0].key == "PEPEUSDT"


def test_override_errors_are_reported_not_applied():
    overrides = Overrides.from_dict(
        {
            "aliases": {"tokenmetrics": {"1": "no-such-coin"}},
            "exchange_assets": {"binance": {"btc": "no-such-coin"}},
            "preferred_symbols": {"BTC": "ethereum"},
        }
    )
    plan = build_registry(
        [CoinListing("bitcoin", "btc", "Bitcoin"), CoinListing("ethereum", "eth", "Ethereum")],
        [],
        [ExchangeMarket("binance", "BTCUSDT", "BTC", "USDT")],
        [],
        overrides,
    )
    kinds = sorted(u.kind for u in plan.unresolved)
    assert kinds == ["alias", "market", "symbol"]
    assert not any(a.source == "tokenmetrics" for a in plan.aliases)


def test_build_is_deterministic(plan):
    again = build_registry(
        list(reversed(listings())),
        list(reversed(platforms())),
        list(reversed(binance_markets() + coinbase_markets())),
        list(reversed(tickers())),
        Overrides.load(),
    )
    assert again == plan


def test_malformed_override_file_fails_loudly(tmp_path):
    path = tmp_path / "o.json"
    path.write_text(json.dumps({"aliases": {"tokenmetrics": {"3375": 1}}}))
    with pytest.raises(ValueError, match="aliases"):
        Overrides.load(path)
    path.write_text(json.dumps({"chains": {"solana": {"name": "x"}}}))
    with pytest.raises(ValueError, match="caip2"):
        Overrides.load(path)


def test_packaged_override_file_is_consistent():
    o = Overrides.load()
    for source, codes in o.exchange_assets.items():
        assert source in o.coingecko_exchange_ids
        assert all(code == code.upper() for code in codes)
    assert "USD" in o.fiat
    assert "USDT" not in o.fiat
    assert all(caip19 == caip19.lower() for caip19 in o.decimals)
