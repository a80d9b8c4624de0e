"""``cryptoql import``: every row validated, all or nothing, idempotent."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ingest.importer import ImportRejected, import_files, parse_files
from ingest.writer import Writer
from storage.models import Asset, AssetCategory, Candle, Quote

ASSETS_CSV = """canonical_id,symbol,name,kind,rank,categories
bitcoin,BTC,Bitcoin,coin,1,layer-1;store-of-value
usd-coin,usdc,USDC,stablecoin,6,stablecoins
"""

CANDLES_CSV = """asset,interval,open_time,open,high,low,close,volume
bitcoin,1h,2026-01-05T10:00:00Z,42000.5,42100,41900.25,42050,12.5
bitcoin,1h,2026-01-05T11:00:00+00:00,42050,42200,42000,42150.75,8
"""


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


async def _count(db, model) -> int:
    async with db.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_csv_json_and_jsonl_import_then_reimport_changes_nothing(db, tmp_path):
    quotes = {
        "quotes": [
            {"asset": "bitcoin", "price": "42123.45", "observed_at": "2026-01-05T12:00:00Z",
             "market_cap": "830000000000", "source": "my-desk"},
            {"asset": "usd-coin", "price": 0.9998, "observed_at": 1767614400},
        ]
    }  # fmt: skip
    jsonl = (
        json.dumps({"type": "candle", "asset": "usd-coin", "interval": "1d",
                    "close_time": "2026-01-06T00:00:00Z", "open": "1", "high": "1.001",
                    "low": "0.999", "close": "1.0002"}) + "\n"
    )  # fmt: skip
    files = [
        _write(tmp_path, "assets.csv", ASSETS_CSV),
        _write(tmp_path, "candles.csv", CANDLES_CSV),
        _write(tmp_path, "quotes.json", json.dumps(quotes)),
        _write(tmp_path, "more.jsonl", jsonl),
    ]
    writer = Writer(db.sessions)
    report = await import_files(writer, files)
    assert (report.assets, report.quotes, report.candles) == (2, 2, 3)
    assert report.rollups == 1  # the two 1h candles roll up into their day
    before = [await _count(db, m) for m in (Asset, Quote, Candle, AssetCategory)]
    await import_files(writer, files)
    assert [await _count(db, m) for m in (Asset, Quote, Candle, AssetCategory)] == before

    async with db.sessions() as s:
        btc = (await s.execute(select(Asset).where(Asset.canonical_id == "bitcoin"))).scalar_one()
        q = (await s.execute(select(Quote).where(Quote.source == "my-desk"))).scalar_one()
        usdc_day = (
            await s.execute(
                select(Candle).where(Candle.interval == "1d", Candle.source == "import")
            )
        ).scalars()
        days = {c.asset_id: c for c in usdc_day}
    assert btc.rank == 1
    assert q.price == Decimal("42123.45")
    assert q.quote_currency == "USD"
    # close_time 2026-01-06T00:00Z of a 1d candle is its open time 2026-01-05T00:00Z.
    assert {c.open_time.isoformat() for c in days.values()} == {"2026-01-05T00:00:00+00:00"}


async def test_a_bad_file_is_rejected_whole_with_line_numbers(db, tmp_path):
    bad = _write(
        tmp_path,
        "bad.csv",
        "asset,interval,open_time,open,high,low,close,volume\n"
        "bitcoin,1h,2026-01-05T10:00:00Z,100,110,90,105,1\n"  # line 2 fine
        "bitcoin,1h,2026-01-05T11:00:00Z,100,95,90,105,1\n"  # line 3: close above high
        "bitcoin,1h,2026-01-05T12:00:00,100,110,90,105,1\n"  # line 4: naive time
        "bitcoin,1h,2026-01-05T13:30:00Z,100,110,90,105,1\n"  # line 5: misaligned
        "bitcoin,1h,2026-01-05T14:00:00Z,abc,110,90,105,1\n"  # line 6: not a number
        "bitcoin,1h,2026-01-05T10:00:00Z,100,110,90,105,1\n",  # line 7: duplicate of 2
    )
    good = _write(tmp_path, "assets.csv", ASSETS_CSV)
    with pytest.raises(ImportRejected) as err:
        await import_files(Writer(db.sessions), [good, bad])
    problems = err.value.problems
    assert [p.split(": ", 1)[0] for p in problems] == [f"{bad}:{n}" for n in (3, 4, 5, 6, 7)]
    assert "OHLC inconsistent" in problems[0]
    assert "no timezone" in problems[1]
    assert "grid" in problems[2]
    assert "not a number" in problems[3]
    assert f"duplicate of the candle at {bad}:2" in problems[4]
    # Nothing at all was written, not even the good assets file.
    assert await _count(db, Asset) == 0
    assert await _count(db, Candle) == 0


async def test_unknown_assets_are_rejected_and_nothing_written(db, tmp_path):
    f = _write(tmp_path, "c.csv", CANDLES_CSV)
    with pytest.raises(ImportRejected, match="unknown asset 'bitcoin'"):
        await import_files(Writer(db.sessions), [f])
    assert await _count(db, Candle) == 0


def test_json_problems_name_the_item_and_jsonl_the_line(tmp_path):
    doc = {"candles": [{"asset": "x", "interval": "1h", "open_time": "2026-01-01T00:00:00Z",
                        "open": "1", "high": "1", "low": "1", "close": "-1"}]}  # fmt: skip
    f = _write(tmp_path, "a.json", json.dumps(doc))
    g = _write(tmp_path, "b.jsonl", '{"type": "quote", "asset": "x", "price": "1"}\n{oops\n')
    h = _write(tmp_path, "c.csv", "what,is,this\n1,2,3\n")
    problems = parse_files([f, g, h]).problems
    assert problems[0].startswith(f"{f}: candles[0]: ")
    assert problems[1].startswith(f"{g}:1: missing observed_at")
    assert problems[2].startswith(f"{g}:2: invalid JSON")
    assert problems[3].startswith(f"{h}:1: header names no known file type")
