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
