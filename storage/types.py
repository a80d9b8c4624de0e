"""Column types that behave the same on SQLite and PostgreSQL.

* ``ExactDecimal`` stores money and prices exactly: NUMERIC on PostgreSQL and
  TEXT on SQLite (SQLite's NUMERIC affinity would silently turn values into
  binary floats). Values round-trip as :class:`decimal.Decimal`.
* ``UTCDateTime`` stores timezone-aware UTC instants and always hands back an
  aware ``datetime`` in UTC (SQLite has no timezone support of its own).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Any

from sqlalchemy import DateTime, Float, Numeric, String, cast
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine


class ExactDecimal(TypeDecorator[Decimal]):
    """A decimal column that never passes through a binary float."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 40, scale: int = 18) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(96))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
        if not dec.is_finite():
            raise ValueError(f"non-finite decimal {dec!r} cannot be stored")
        if dialect.name == "sqlite":
            return format(dec, "f")
        return dec

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
        return canonical_decimal(dec)


_DEFAULT_PRECISION = 28


def canonical_decimal(dec: Decimal) -> Decimal:
    """Strip trailing zeros so NUMERIC(40,18) on PostgreSQL and TEXT on SQLite agree.

    ``Decimal("1.500000000000000000")`` becomes ``Decimal("1.5")`` and
    ``Decimal("100.000")`` becomes ``Decimal("100")`` (never ``1E+2``).
    """
    if len(dec.as_tuple().digits) <= _DEFAULT_PRECISION and dec.adjusted() < _DEFAULT_PRECISION:
        if dec == dec.to_integral_value():
            return dec.quantize(Decimal(1))
        return dec.normalize()
    with localcontext() as ctx:
        # uint256 amounts have up to 78 digits; the default context (28) would raise
        # or round. Work with enough precision for every stored column.
        ctx.prec = 100
        if dec == dec.to_integral_value():
            return dec.quantize(Decimal(1))
        return dec.normalize()


def sortable(column: ColumnElement[Decimal]) -> ColumnElement[float]:
    """An expression to ORDER BY / compare an ``ExactDecimal`` column numerically.

    On SQLite the stored text must be cast; on PostgreSQL the cast is harmless.
    Used only for ordering and range filters, never to read values.
    """
    return cast(column, Float)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not accepted; use timezone-aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
