"""The cryptoql trader grade: one published formula, 0–100, with its component scores.

Version 1 (docs/signals.md is the reference and must match this code)::

    trend      = 100 · clamp01(0.5 + (SMA20 / SMA50 − 1) / 0.10)
    momentum   = RSI14
    macd       = 100 · clamp01(0.5 + (MACD histogram / close) / 0.02)
    stability  = 100 · clamp01(1 − (ATR14 / close) / 0.10)

    grade = 0.35 · trend + 0.25 · momentum + 0.25 · macd + 0.15 · stability

rounded to two decimals. Direction: ``bullish`` from 60, ``bearish`` up to 40,
``neutral`` between. Every component is kept in the stored ``details`` so a
reader can see why a grade is what it is.

Why these pieces: trend says where price is heading (a 5 % gap between the
20- and 50-period averages saturates it), momentum how strongly (RSI as is),
MACD whether that strength is building or fading (±1 % of price saturates),
and stability discounts a move made on wild swings (an ATR of 10 % of price
scores zero). The weights favour direction over speed and speed over calm.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

VERSION = 1
WEIGHTS: dict[str, Decimal] = {
    "trend": Decimal("0.35"),
    "momentum": Decimal("0.25"),
    "macd": Decimal("0.25"),
    "stability": Decimal("0.15"),
}
TREND_SPAN = Decimal("0.10")  # SMA gap from −5 % to +5 % maps to 0..100
MACD_SPAN = Decimal("0.02")  # histogram from −1 % to +1 % of price maps to 0..100
ATR_CEILING = Decimal("0.10")  # ATR at 10 % of price scores 0
BULLISH_FROM = Decimal(60)
BEARISH_UPTO = Decimal(40)
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class GradeInputs:
    close: Decimal
    sma_fast: Decimal
    sma_slow: Decimal
    rsi: Decimal
    macd_histogram: Decimal
    atr: Decimal


@dataclass(frozen=True, slots=True)
class Grade:
    value: Decimal
    direction: str
    components: dict[str, Decimal]


def _clamp01(x: Decimal) -> Decimal:
    return min(Decimal(1), max(Decimal(0), x))


def _cents(x: Decimal) -> Decimal:
    return x.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def components(inp: GradeInputs) -> dict[str, Decimal]:
    """The four 0–100 component scores (rounded to cents) of the formula above."""
    half = Decimal("0.5")
    return {
        "trend": _cents(_HUNDRED * _clamp01(half + (inp.sma_fast / inp.sma_slow - 1) / TREND_SPAN)),
        "momentum": _cents(min(_HUNDRED, max(Decimal(0), inp.rsi))),
        "macd": _cents(_HUNDRED * _clamp01(half + (inp.macd_histogram / inp.close) / MACD_SPAN)),
        "stability": _cents(_HUNDRED * _clamp01(1 - (inp.atr / inp.close) / ATR_CEILING)),
    }


def direction_of(value: Decimal) -> str:
    if value >= BULLISH_FROM:
        return "bullish"
    if value <= BEARISH_UPTO:
        return "bearish"
    return "neutral"


def trader_grade(inp: GradeInputs) -> Grade:
    parts = components(inp)
    value = _cents(sum((WEIGHTS[k] * v for k, v in parts.items()), Decimal(0)))
    return Grade(value=value, direction=direction_of(value), components=parts)


__all__ = ["VERSION", "WEIGHTS", "Grade", "GradeInputs", "components", "trader_grade"]
