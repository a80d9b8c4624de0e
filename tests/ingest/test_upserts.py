"""Idempotent upserts on both backends: writing twice leaves one row with the latest values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from storage.models import (
    Asset,
    AssetAlias,
    AssetCategory,
    Candle,
    Chain,
    Market,
    Quote,
    SignalValue,
    TokenContract,
)
from storage.records import ChainRecord, ContractRecord, SignalRecord
from storage.repositories import ingest as repo

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def _count(session, model) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def _seed_asset(db) -> int:
    async with db.sessions() as s:
        ids = await repo.upsert_assets(s, [repo.AssetRow("bitcoin", "BTC", "Bitcoin", rank=1)])
        await s.commit()
    return ids["bitcoin"]


async def test_identity_upserts_are_idempotent_and_keep_known_values(db):
    async with db.sessions() as s:
        ids = await repo.upsert_assets(
            s,
            [
                repo.AssetRow("ethereum", "ETH", "Ethereum", rank=2, native_chain_id="ethereum"),
                repo.AssetRow("usd-coin", "USDC", "USDC", kind="stablecoin", rank=7),
            ],
        )
        eth, usdc = ids["ethereum"], ids["usd-coin"]
        await repo.upsert_chains(s, [ChainRecord("ethereum", "Ethereum", "eip155:1", 1, eth)])
        await s.commit()
    for _ in range(2):
        async with db.sessions() as s:
            # A source that knows no rank must not erase the rank another source set.
            again = await repo.upsert_assets(
                s, [repo.AssetRow("ethereum", "ETH", "Ether", rank=None)]
            )
            assert again == {"ethereum": eth}
            await repo.upsert_aliases(s, [repo.AliasRow(usdc, "coingecko", "usd-coin")])
            await repo.upsert_markets(s, [repo.MarketRow("binance", "ETHUSDT", eth, "USDT")])
            await repo.upsert_contracts(
                s,
                [ContractRecord(usdc, "ethereum", "0xA0b86991c6218b36c1d19d4a2e9eB0cE3606eB48", 6)],
            )
            await repo.upsert_categories(s, [(usdc, "stablecoins"), (usdc, "stablecoins")])
            await s.commit()
    async with db.sessions() as s:
        asset = (await s.execute(select(Asset).where(Asset.id == eth))).scalar_one()
        assert (asset.name, asset.rank, asset.native_chain_id) == ("Ether", 2, "ethereum")
        for model in (AssetAlias, Market, TokenContract, AssetCategory, Chain):
            assert await _count(s, model) == 1, model
        contract = (await s.execute(select(TokenContract))).scalar_one()
        assert contract.address == "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
        assert await repo.asset_ids_by_alias(s, "coingecko", ["usd-coin", "nope"]) == {
            "usd-coin": usdc
        }
        assert await repo.markets_by_symbol(s, "binance", ["ETHUSDT"]) == {"ETHUSDT": (eth, "USDT")}


async def test_quote_upsert_updates_values_and_collapses_duplicates(db):
    btc = await _seed_asset(db)
    q = repo.QuoteRow("test", btc, "USD", Decimal("100.5"), T0, volume_24h=Decimal("7"))
    async with db.sessions() as s:
        # The same key twice in one call is collapsed (PostgreSQL would refuse it).
        sent = await repo.upsert_quotes(s, [q, q])
        await s.commit()
    assert sent == 1
    newer = repo.QuoteRow("test", btc, "USD", Decimal("101.25"), T0, market_cap=Decimal("9"))
    async with db.sessions() as s:
        await repo.upsert_quotes(s, [newer])
        await s.commit()
    async with db.sessions() as s:
        rows = (await s.execute(select(Quote))).scalars().all()
    assert len(rows) == 1
    assert rows[0].price == Decimal("101.25")
    assert rows[0].market_cap == Decimal("9")
    assert rows[0].volume_24h is None


async def test_complete_candle_is_never_downgraded_by_a_partial_update(db):
    btc = await _seed_asset(db)

    def candle(close: str, complete: bool) -> repo.CandleRow:
        return repo.CandleRow(
            "test",
            btc,
            "USD",
            "1m",
            T0,
            Decimal(1),
            Decimal(3),
            Decimal("0.5"),
            Decimal(close),
            Decimal(10),
            complete,
        )

    async with db.sessions() as s:
        await repo.upsert_candles(s, [candle("2", False)])
        await repo.upsert_candles(s, [candle("2.5", True)])
        await repo.upsert_candles(s, [candle("1.5", False)])  # late partial: ignored
        await s.commit()
    async with db.sessions() as s:
        row = (await s.execute(select(Candle))).scalar_one()
    assert (row.close, row.is_complete) == (Decimal("2.5"), True)


async def test_large_batches_are_chunked(db):
    btc = await _seed_asset(db)
    rows = [
        repo.CandleRow(
            "test",
            btc,
            "USD",
            "1m",
            T0 + timedelta(minutes=i),
            Decimal(i + 1),
            Decimal(i + 2),
            Decimal(i),
            Decimal(i + 1),
        )
        for i in range(repo.CHUNK_ROWS * 2 + 17)
    ]
    async with db.sessions() as s:
        assert await repo.upsert_candles(s, rows) == len(rows)
        await s.commit()
    async with db.sessions() as s:
        assert await _count(s, Candle) == len(rows)
        got = await repo.candles_between(
            s,
            source="test",
            quote_currency="USD",
            interval="1m",
            asset_ids=[btc],
            start=T0 + timedelta(minutes=10),
            end=T0 + timedelta(minutes=20),
        )
        latest = await repo.latest_candles(
            s, source="test", asset_id=btc, quote_currency="USD", interval="1m", limit=3
        )
    assert [c.open for c in got] == [Decimal(i + 1) for i in range(10, 20)]
    assert [c.open_time for c in latest] == [r.open_time for r in rows[-3:]]


async def test_cursor_commits_with_rows_and_rolls_back_with_them(db):
    btc = await _seed_asset(db)
    sig = SignalRecord("cryptoql", btc, "rsi", Decimal("55.5"), "neutral", "1h", T0, {"n": 14})
    async with db.sessions() as s:
        await repo.upsert_signals(s, [sig])
        await repo.set_cursor(s, "test", "signals", "a", T0)
        await s.rollback()
    async with db.sessions() as s:
        assert await repo.get_cursor(s, "test", "signals") is None
        assert await _count(s, SignalValue) == 0
        await repo.upsert_signals(s, [sig])
        await repo.set_cursor(s, "test", "signals", "a", T0)
        await repo.set_cursor(s, "test", "signals", "b", T0)
        await s.commit()
    async with db.sessions() as s:
        assert await repo.get_cursor(s, "test", "signals") == "b"
        stored = (await s.execute(select(SignalValue))).scalar_one()
    assert stored.details == {"n": 14}
    assert stored.value == Decimal("55.5")
