"""``cryptoql import``: assets, quotes and candles from CSV or JSON files, all or nothing.

Every file is parsed and every row validated *before* anything is written;
one bad row rejects the whole import with ``file:line: problem`` for each bad
row, and nothing is half-written. When all rows are good they are written in
one transaction through the same path as live ingest (upserts, candle
rollups), so importing the same file twice changes nothing.

Formats (docs/ingest.md has examples):

* CSV with a header row. The header says what the file holds: ``canonical_id``
  → assets; ``price`` → quotes; ``open,high,low,close`` → candles.
* JSON Lines (``.jsonl``): one object per line with ``"type"`` set to
  ``asset``, ``quote`` or ``candle`` and the same field names as the CSV.
* JSON (``.json``): ``{"assets": [...], "quotes": [...], "candles": [...]}``;
  problems are reported as ``file: candles[3]``.

Timestamps are ISO-8601 with a timezone (``2026-01-05T12:00:00Z``) or Unix
seconds; a naive time is an error, never silently taken as local or UTC.
Numbers are parsed exactly as decimals.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ingest.candles import open_from_close
from ingest.guard import candle_problem, quote_problem
from ingest.registry import AssetSpec, Registry, store_registry
from ingest.writer import Writer
from storage.repositories import ingest as repo
from storage.repositories.ingest import CandleRow, QuoteRow

DEFAULT_SOURCE = "import"
DEFAULT_QUOTE = "USD"
ASSET_KINDS = {"coin", "token", "stablecoin", "fiat"}
MAX_REPORTED = 50


class ImportRejected(Exception):
    """The import was refused; ``problems`` lists every bad row as ``where: what``."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_REPORTED]
        more = f"\n… and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__(
            f"import rejected, nothing written ({len(problems)} problems):\n"
            + "\n".join(shown)
            + more
        )
        self.problems = problems


class RowError(ValueError):
    pass


@dataclass
class Parsed:
    assets: list[AssetSpec] = field(default_factory=list)
    quotes: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # where, asset
    candles: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    files: int = 0
    assets: int = 0
    quotes: int = 0
    candles: int = 0
    rollups: int = 0


# ------------------------------------------------------------------------- field readers


def _text(row: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is not None:
            return default
        raise RowError(f"missing {name}")
    if not isinstance(value, str):
        raise RowError(f"{name} must be text")
    return value.strip()


def _decimal(row: Mapping[str, Any], name: str, *, required: bool = True) -> Decimal | None:
    value = row.get(name)
    if value is None or value == "":
        if required:
            raise RowError(f"missing {name}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise RowError(f"{name} must be a number written as text or an integer")
    try:
        dec = Decimal(str(value).strip())
    except InvalidOperation:
        raise RowError(f"{name} is not a number: {value!r}") from None
    if not dec.is_finite():
        raise RowError(f"{name} is not finite: {value!r}")
    return dec


def _time(row: Mapping[str, Any], name: str) -> datetime:
    value = row.get(name)
    if value is None or value == "":
        raise RowError(f"missing {name}")
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        raise RowError(f"{name} must be ISO-8601 text or Unix seconds")
    text = value.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RowError(f"{name} is not an ISO-8601 time: {value!r}") from None
    if ts.tzinfo is None:
        raise RowError(f"{name} has no timezone: {value!r} (write e.g. {text}Z)")
    return ts.astimezone(UTC)


def _bool(row: Mapping[str, Any], name: str, default: bool) -> bool:
    value = row.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise RowError(f"{name} must be true or false: {value!r}")


# ------------------------------------------------------------------------- rows


def _asset(row: Mapping[str, Any]) -> AssetSpec:
    kind = _text(row, "kind", "coin")
    if kind not in ASSET_KINDS:
        raise RowError(f"kind must be one of {sorted(ASSET_KINDS)}: {kind!r}")
    rank = row.get("rank")
    if rank not in (None, ""):
        try:
            rank = int(str(rank))
        except ValueError:
            raise RowError(f"rank must be an integer: {rank!r}") from None
    cats = row.get("categories") or ""
    categories = (
        tuple(str(c).strip() for c in cats)
        if isinstance(cats, list)
        else tuple(c.strip() for c in str(cats).split(";") if c.strip())
    )
    return AssetSpec(
        canonical_id=_text(row, "canonical_id"),
        symbol=_text(row, "symbol").upper(),
        name=_text(row, "name"),
        kind=kind,
        rank=rank if isinstance(rank, int) else None,
        categories=categories,
    )


def _quote(row: Mapping[str, Any]) -> dict[str, Any]:
    optional = ("volume_24h", "market_cap", "change_1h", "change_24h", "change_7d")
    supplies = ("circulating_supply", "total_supply", "max_supply")
    out: dict[str, Any] = {
        "source": _text(row, "source", DEFAULT_SOURCE),
        "quote_currency": _text(row, "quote_currency", DEFAULT_QUOTE).upper(),
        "price": _decimal(row, "price"),
        "observed_at": _time(row, "observed_at"),
    }
    for name in (*optional, *supplies):
        out[name] = _decimal(row, name, required=False)
    problem = quote_problem(QuoteRow(asset_id=0, **out), datetime.now(UTC))
    if problem:
        raise RowError(_explain(problem))
    return out


def _candle(row: Mapping[str, Any]) -> dict[str, Any]:
    interval = _text(row, "interval")
    if row.get("open_time") not in (None, ""):
        open_time = _time(row, "open_time")
    elif row.get("close_time") not in (None, ""):
        try:
            open_time = open_from_close(_time(row, "close_time"), interval)
        except ValueError as exc:
            raise RowError(str(exc)) from None
    else:
        raise RowError("missing open_time (or close_time)")
    out: dict[str, Any] = {
        "source": _text(row, "source", DEFAULT_SOURCE),
        "quote_currency": _text(row, "quote_currency", DEFAULT_QUOTE).upper(),
        "interval": interval,
        "open_time": open_time,
        "open": _decimal(row, "open"),
        "high": _decimal(row, "high"),
        "low": _decimal(row, "low"),
        "close": _decimal(row, "close"),
        "volume": _decimal(row, "volume", required=False),
        "is_complete": _bool(row, "is_complete", True),
    }
    problem = candle_problem(CandleRow(asset_id=0, **out), datetime.now(UTC))
    if problem:
        raise RowError(_explain(problem))
    return out


_EXPLAIN = {
    "ohlc_inconsistent": "OHLC inconsistent (need low <= open, close <= high)",
    "non_positive": "prices must be > 0",
    "negative": "volumes and market caps must be >= 0",
    "misaligned": "open_time is not on the interval's grid (e.g. a 1h candle opens at :00)",
    "bad_interval": "unknown interval (use 1m, 5m, 15m, 1h, 4h, 1d …)",
    "future": "timestamp is in the future",
    "bad_timestamp": "timestamp before 2009-01-03 or without timezone",
    "non_finite": "number is not finite",
}


def _explain(reason: str) -> str:
    return _EXPLAIN.get(reason, reason)


# ------------------------------------------------------------------------- files


def _records(path: Path) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """``(where, type, row)`` for every record of a file (``type``: asset/quote/candle)."""
    text = path.read_text("utf-8")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line, parse_float=Decimal)
            except json.JSONDecodeError as exc:
                raise RowError(f"{path}:{n}: invalid JSON: {exc.msg}") from None
            if not isinstance(obj, dict):
                raise RowError(f"{path}:{n}: each line must be a JSON object")
            yield f"{path}:{n}", str(obj.get("type", "")), obj
    elif suffix == ".json":
        try:
            doc = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise RowError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        if not isinstance(doc, dict):
            raise RowError(f'{path}: expected an object {{"assets": [...], "candles": [...]}}')
        for key, kind in (("assets", "asset"), ("quotes", "quote"), ("candles", "candle")):
            items = doc.get(key) or []
            if not isinstance(items, list):
                raise RowError(f"{path}: {key} must be a list")
            for i, obj in enumerate(items):
                if not isinstance(obj, dict):
                    raise RowError(f"{path}: {key}[{i}] must be an object")
                yield f"{path}: {key}[{i}]", kind, obj
    else:
        reader = csv.DictReader(io.StringIO(text))
        header = set(reader.fieldnames or ())
        if "canonical_id" in header:
            kind = "asset"
        elif {"open", "high", "low", "close"} <= header:
            kind = "candle"
        elif "price" in header:
            kind = "quote"
        else:
            raise RowError(f"{path}:1: header names no known file type ({sorted(header)})")
        for row in reader:
            if None in row:
                raise RowError(f"{path}:{reader.line_num}: more fields than the header has")
            yield f"{path}:{reader.line_num}", kind, row


def parse_files(paths: list[Path]) -> Parsed:
    """Parse and validate every row of every file; problems are collected, not raised."""
    parsed = Parsed()
    for path in paths:
        try:
            for where, kind, row in _records(path):
                try:
                    if kind == "asset":
                        parsed.assets.append(_asset(row))
                    elif kind == "quote":
                        parsed.quotes.append((where, _text(row, "asset"), _quote(row)))
                    elif kind == "candle":
                        parsed.candles.append((where, _text(row, "asset"), _candle(row)))
                    else:
                        raise RowError(f"unknown type {kind!r} (asset, quote or candle)")
                except RowError as exc:
                    parsed.problems.append(f"{where}: {exc}")
        except RowError as exc:
            parsed.problems.append(str(exc))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            parsed.problems.append(f"{path}: cannot read: {exc}")
    _duplicates(parsed)
    return parsed


def _duplicates(parsed: Parsed) -> None:
    seen: dict[tuple[Any, ...], str] = {}
    for where, asset, c in parsed.candles:
        key = (c["source"], asset, c["quote_currency"], c["interval"], c["open_time"])
        if key in seen:
            parsed.problems.append(f"{where}: duplicate of the candle at {seen[key]}")
        seen.setdefault(key, where)
    seen_quotes: dict[tuple[Any, ...], str] = {}
    for where, asset, q in parsed.quotes:
        qkey = (q["source"], asset, q["quote_currency"], q["observed_at"])
        if qkey in seen_quotes:
            parsed.problems.append(f"{where}: duplicate of the quote at {seen_quotes[qkey]}")
        seen_quotes.setdefault(qkey, where)


async def import_files(writer: Writer, paths: list[Path]) -> ImportReport:
    """Validate everything, then write everything in one transaction (or raise)."""
    parsed = parse_files(paths)
    if parsed.problems:
        raise ImportRejected(parsed.problems)
    report = ImportReport(files=len(paths), assets=len(parsed.assets))
    async with writer.sessions() as session:
        ids = await store_registry(session, Registry(assets=tuple(parsed.assets)))
        wanted = {a for _, a, _ in (*parsed.quotes, *parsed.candles)} - ids.keys()
        ids.update(await repo.asset_ids_by_canonical(session, sorted(wanted)))
        missing = [
            f"{where}: unknown asset {asset!r} (import it first or in the same run)"
            for where, asset, _ in (*parsed.quotes, *parsed.candles)
            if asset not in ids
        ]
        if missing:
            await session.rollback()
            raise ImportRejected(missing)
        quotes = [QuoteRow(asset_id=ids[a], **q) for _, a, q in parsed.quotes]
        candles = [CandleRow(asset_id=ids[a], **c) for _, a, c in parsed.candles]
        rolled = await writer.store(session, quotes, candles)
        await session.commit()
    writer.forget_identity()
    report.quotes, report.candles, report.rollups = len(quotes), len(candles), len(rolled)
    domains = ["assets"] if parsed.assets else []
    domains += ["quotes"] if quotes else []
    domains += ["candles"] if candles else []
    await writer.publisher.bump(domains)
    return report


__all__ = ["ImportRejected", "ImportReport", "import_files", "parse_files"]
