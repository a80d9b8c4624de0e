"""Fast exact decoding of decimal columns for the bulk read paths.

``ExactDecimal`` (``storage.types``) turns every value into a ``Decimal`` in
canonical form (no trailing zeros, never an exponent). That is the right
contract, but the dashboard reads tens of thousands of decimals per request
(250 assets × 24 candles × 5 prices …) and the type-decorator path costs a
few microseconds per value. The bulk readers here select the column as text
(``CAST(x AS VARCHAR)``: exact on both backends, SQLite stores text and
PostgreSQL prints ``NUMERIC`` exactly) and build the same canonical
``Decimal`` with one strip and one C-level parse.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import String, cast


def as_text(column: Any) -> Any:
    """The column as its exact decimal text, labelled with the column's key."""
    return cast(column, String).label(column.key)


def dec(text: str | None) -> Decimal | None:
    """``storage.types.canonical_decimal(Decimal(text))`` for fixed-point text, faster.

    ``"1.500"`` → ``Decimal("1.5")``, ``"100.000"`` → ``Decimal("100")``.
    """
    if text is None:
        return None
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return Decimal(text)


def dec_required(text: str) -> Decimal:
    value = dec(text)
    assert value is not None
    return value
