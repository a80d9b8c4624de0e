"""The signals engine: indicators and the trader grade, recomputed as candles close.

For each asset and configured interval the engine follows one candle series
(the first source in the priority list that has candles for it; provenance
is stored in ``details``), keeps an incremental :class:`~ingest.indicators.Series`
in memory, and on :meth:`SignalEngine.update` feeds it only the candles that
closed since the last call. Each fed candle yields one value per signal kind,
stored with ``source = "cryptoql"``, ``horizon`` = the interval and
``computed_at`` = the candle's close time, so the stored history is the
signal as it stood at each close (``asOf`` queries read it).

After a restart (or a gap in the series, or a switch of source) the series
is rebuilt from the latest ``window`` stored candles and only the newest
candle's signals are written: values already stored stay as they were.

Kinds (docs/signals.md has the full definitions): ``sma_cross``,
``ema_cross``, ``rsi``, ``macd``, ``bollinger``, ``atr``, ``volatility``,
``trader_grade``. The first configured interval uses these names; further
intervals append ``_<interval>`` (``rsi_1d``), because the stored key
(source, asset, kind, computed_at) has no horizon in it and a 1h and a 1d
candle close at the same instant every midnight.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from ingest import grade as grading
from ingest.candles import seconds
from ingest.indicators import Params, Series, Snapshot
from ingest.publish import Publisher
from storage.engine import SessionFactory
from storage.records import SignalRecord
from storage.repositories import ingest as repo
from storage.repositories.ingest import CandleRow

log = logging.getLogger("cryptoql.ingest.signals")

SOURCE = "cryptoql"
KINDS = ("sma_cross", "ema_cross", "rsi", "macd", "bollinger", "atr", "volatility", "trader_grade")
#: Signals written per series per update at most (a long backfill only needs the recent ones).
MAX_EMIT = 100


def _dec(x: float) -> Decimal:
    return Decimal(f"{x:.10g}")


def _sign(x: float) -> str:
    return "bullish" if x > 0 else "bearish" if x < 0 else "neutral"


def _cross(fast: float, slow: float, pf: float | None, ps: float | None) -> str | None:
    if pf is None or ps is None:
        return None
    if pf <= ps and fast > slow:
        return "golden"
    if pf >= ps and fast < slow:
        return "death"
    return None


def signal_values(snap: Snapshot, params: Params) -> list[tuple[str, float, str, dict[str, Any]]]:
    """``(kind, value, direction, details)`` for every kind from one snapshot."""
    p = params
    width = snap.bb_upper - snap.bb_lower
    pct_b = (snap.close - snap.bb_lower) / width if width else 0.5
    rsi_dir = "bullish" if snap.rsi < 30 else "bearish" if snap.rsi > 70 else "neutral"
    bb_dir = "bullish" if pct_b < 0 else "bearish" if pct_b > 1 else "neutral"
    sma_gap = (snap.sma_fast / snap.sma_slow - 1) * 100
    ema_gap = (snap.ema_fast / snap.ema_slow - 1) * 100
    sma_cross = _cross(snap.sma_fast, snap.sma_slow, snap.prev_sma_fast, snap.prev_sma_slow)
    ema_cross = _cross(snap.ema_fast, snap.ema_slow, snap.prev_ema_fast, snap.prev_ema_slow)
    return [
        ("sma_cross", sma_gap, _sign(sma_gap), {
            "fast": snap.sma_fast, "slow": snap.sma_slow, "fast_period": p.sma_fast,
            "slow_period": p.sma_slow, "cross": sma_cross}),
        ("ema_cross", ema_gap, _sign(ema_gap), {
            "fast": snap.ema_fast, "slow": snap.ema_slow, "fast_period": p.ema_fast,
            "slow_period": p.ema_slow, "cross": ema_cross}),
        ("rsi", snap.rsi, rsi_dir, {"period": p.rsi, "oversold": 30, "overbought": 70}),
        ("macd", snap.macd_histogram, _sign(snap.macd_histogram), {
            "macd": snap.macd, "signal": snap.macd_signal, "histogram": snap.macd_histogram,
            "periods": [p.macd_fast, p.macd_slow, p.macd_signal]}),
        ("bollinger", pct_b, bb_dir, {
            "upper": snap.bb_upper, "middle": snap.bb_middle, "lower": snap.bb_lower,
            "bandwidth": width / snap.bb_middle if snap.bb_middle else None,
            "period": p.bb_period, "k": p.bb_k}),
        ("atr", snap.atr, "neutral", {"period": p.atr, "atr_pct": snap.atr / snap.close * 100}),
        ("volatility", snap.volatility * 100, "neutral", {
            "period": p.vol, "annualised": True, "unit": "percent"}),
    ]  # fmt: skip


def grade_of(snap: Snapshot) -> grading.Grade:
    return grading.trader_grade(
        grading.GradeInputs(
            close=_dec(snap.close),
            sma_fast=_dec(snap.sma_fast),
            sma_slow=_dec(snap.sma_slow),
            rsi=_dec(snap.rsi),
            macd_histogram=_dec(snap.macd_histogram),
            atr=_dec(snap.atr),
        )
    )


@dataclass
class _Followed:
    source: str
    quote: str
    series: Series


def _priority(source: str, order: Sequence[str]) -> int:
    for i, name in enumerate(order):
        if source == name or source.startswith(name + ":"):
            return i
    return len(order)


class SignalEngine:
    def __init__(
        self,
        sessions: SessionFactory,
        publisher: Publisher | None = None,
        *,
        intervals: Sequence[str] = ("1h",),
        source_priority: Sequence[str] = (),
        params: Params | None = None,
        window: int = 300,
    ) -> None:
        self.sessions = sessions
        self.publisher = publisher or Publisher(None)
        self.intervals = tuple(intervals)
        self.priority = tuple(source_priority)
        self.params = params or Params()
        self.window = max(window, self.params.warmup + 1)
        self._series: dict[tuple[int, str], _Followed] = {}
        self.written = 0

    def kind(self, base: str, interval: str) -> str:
        return base if interval == self.intervals[0] else f"{base}_{interval}"

    def _choose(self, available: set[tuple[str, str]]) -> tuple[str, str]:
        return min(available, key=lambda sq: (_priority(sq[0], self.priority), sq[1] != "USD", sq))

    async def update(self, asset_ids: Iterable[int], *, publish: bool = True) -> list[SignalRecord]:
        """Feed newly closed candles of these assets; store and publish the signals they yield."""
        ids = sorted(set(asset_ids))
        rows: list[SignalRecord] = []
        async with self.sessions() as session:
            for interval in self.intervals:
                available = await repo.candle_sources(session, asset_ids=ids, interval=interval)
                for asset_id, pairs in available.items():
                    source, quote = self._choose(pairs)
                    rows.extend(await self._advance(session, asset_id, interval, source, quote))
            if rows:
                await repo.upsert_signals(session, rows)
                names = await repo.canonical_ids(session, [r.asset_id for r in rows])
            await session.commit()
        if rows:
            self.written += len(rows)
            if publish:
                await self.publisher.signals([(names[r.asset_id], r) for r in rows])
            await self.publisher.bump(["signals"])
        return rows

    async def _advance(
        self, session: Any, asset_id: int, interval: str, source: str, quote: str
    ) -> list[SignalRecord]:
        key = (asset_id, interval)
        followed = self._series.get(key)
        step = timedelta(seconds=seconds(interval))
        fresh = followed is None or (followed.source, followed.quote) != (source, quote)
        after = None if fresh or followed is None else followed.series.last_open
        latest = partial(
            repo.latest_candles,
            session,
            source=source,
            asset_id=asset_id,
            quote_currency=quote,
            interval=interval,
            limit=self.window,
        )
        new = await latest(after=after)
        if not new:
            return []
        contiguous = after is not None and new[0].open_time == after + step
        if fresh or not contiguous or len(new) >= self.window:
            if not fresh:
                new = await latest()
            followed = _Followed(source, quote, Series(interval, self.params, self.window))
            self._series[key] = followed
            emit_from = len(new) - 1  # a rebuild writes only the newest candle's signals
        else:
            emit_from = max(0, len(new) - MAX_EMIT)
        assert followed is not None
        out: list[SignalRecord] = []
        for i, candle in enumerate(new):
            snap = followed.series.add(candle)
            if snap is not None and i >= emit_from:
                out.extend(self._rows(asset_id, interval, candle, snap, source))
        return out

    def _rows(
        self, asset_id: int, interval: str, candle: CandleRow, snap: Snapshot, source: str
    ) -> list[SignalRecord]:
        at: datetime = candle.open_time + timedelta(seconds=seconds(interval))
        provenance = {"interval": interval, "candles": f"{source} {candle.quote_currency}"}
        rows = [
            SignalRecord(
                SOURCE,
                asset_id,
                self.kind(kind, interval),
                _dec(value),
                direction,
                interval,
                at,
                _clean({**details, **provenance}),
            )
            for kind, value, direction, details in signal_values(snap, self.params)
            if math.isfinite(value)
        ]
        g = grade_of(snap)
        details = {
            **{k: str(v) for k, v in g.components.items()},
            "weights": {k: str(v) for k, v in grading.WEIGHTS.items()},
            "formula": f"cryptoql trader grade v{grading.VERSION} (docs/signals.md)",
            **provenance,
        }
        rows.append(
            SignalRecord(
                SOURCE,
                asset_id,
                self.kind("trader_grade", interval),
                g.value,
                g.direction,
                interval,
                at,
                details,
            )
        )
        return rows


def _clean(details: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe details: floats rounded to 10 significant digits, non-finite dropped."""
    out: dict[str, Any] = {}
    for k, v in details.items():
        if isinstance(v, float):
            out[k] = float(f"{v:.10g}") if math.isfinite(v) else None
        else:
            out[k] = v
    return out


__all__ = ["KINDS", "SOURCE", "SignalEngine", "grade_of", "signal_values"]
