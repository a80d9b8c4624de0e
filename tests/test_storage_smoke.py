from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from storage.models import Asset, Quote


async def test_decimals_and_timestamps_round_trip_exactly(db):
    when = datetime(2026, 11, 27, 12, 0, 1, 123456, tzinfo=UTC)
    async with db.sessions() as s:
        s.add(Asset(canonical_id="bitcoin", symbol="BTC", name="Bitcoin", kind="coin"))
        await s.flush()
        asset_id = (await s.execute(select(Asset.id))).scalar_one()
        s.add(
            Quote(
                source="test",
                asset_id=asset_id,
                quote_currency="USD",
                price=Decimal("0.000000012345678901"),
                market_cap=Decimal("1234567890123456.5"),
                observed_at=when,
            )
        )
        await s.commit()
    async with db.sessions() as s:
        q = (await s.execute(select(Quote))).scalar_one()
    assert q.price == Decimal("0.000000012345678901")
    assert q.market_cap == Decimal("1234567890123456.5")
    assert q.observed_at == when
    assert q.observed_at.tzinfo is UTC


def test_canonical_decimal_keeps_uint256_and_long_fractions_exact():
    from storage.types import canonical_decimal

    big = Decimal(2**255 + 12345)
    assert canonical_decimal(big) == big
    assert str(canonical_decimal(big)) == str(2**255 + 12345)
    long_frac = Decimal("1" + "0" * 30 + ".5")
    assert canonical_decimal(Decimal("1" + "0" * 30 + ".500000000000000000")) == long_frac
    assert str(canonical_decimal(Decimal("100.000"))) == "100"


async def test_statement_counters_nest(db):
    from sqlalchemy import text

    from storage.engine import make_engine
    from storage.instrument import counting_statements, install_statement_counter

    engine = make_engine(db.url)
    install_statement_counter(engine)
    try:
        with counting_statements() as outer:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                with counting_statements() as inner:
                    await conn.execute(text("SELECT 2"))
        assert inner.count == 1
        assert outer.count == 2
    finally:
        await engine.dispose()
