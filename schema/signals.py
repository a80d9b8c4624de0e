"""Signal types: latest trading signals and the composite trader grade."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from cost.directives import list_size
from resolvers.instant import Instant
from resolvers.signals import grade_components
from schema.compiled.batch import reads
from schema.view import constructor
from storage.records import SignalRecord


@strawberry.enum(description="Which way a signal points.")
class SignalDirection(Enum):
    BULLISH = strawberry.enum_value("bullish", description="Points up.")
    BEARISH = strawberry.enum_value("bearish", description="Points down.")
    NEUTRAL = strawberry.enum_value("neutral", description="No clear direction.")


_DIRECTIONS: dict[str, SignalDirection] = {str(d.value): d for d in SignalDirection}
_NEUTRAL = SignalDirection.NEUTRAL  # an enum member read through the class costs a lookup


def _direction(raw: str) -> SignalDirection:
    found = _DIRECTIONS.get(raw)  # stored values are lower case: no new string
    return found if found is not None else _DIRECTIONS.get(raw.lower(), _NEUTRAL)


@strawberry.type(description="The latest value of one signal kind from one source.")
class Signal:
    """A view over one stored signal: fields read the record when selected."""

    record: strawberry.Private[SignalRecord]
    instant: strawberry.Private[Instant]

    @strawberry.field(description="Signal kind, e.g. rsi, macd, sma_cross.")
    @reads("record.kind")
    def kind(self) -> str:
        return self.record.kind

    @strawberry.field(description="The signal's value.")
    @reads("record.value")
    def value(self) -> Decimal:
        return self.record.value

    @strawberry.field(description="Which way it points.")
    @reads("record.direction", via=_direction)
    def direction(self) -> SignalDirection:
        return _direction(self.record.direction)

    @strawberry.field(description="The interval it was computed on, e.g. 1h.")
    @reads("record.horizon")
    def horizon(self) -> str:
        return self.record.horizon

    @strawberry.field(description="When it was computed (UTC).")
    @reads("record.computed_at")
    def computed_at(self) -> datetime:
        return self.record.computed_at

    @strawberry.field(description="Its age at the instant read.")
    def age_seconds(self) -> int:
        return self.instant.age_seconds(self.record.computed_at)

    @strawberry.field(description="Who computed it: cryptoql (our engine) or an upstream provider.")
    @reads("record.source")
    def source(self) -> str:
        return self.record.source

    @strawberry.field(description="Inputs and parameters behind the value, as stored.")
    def details(self) -> JSON | None:
        details = self.record.details
        return None if details is None else JSON(details)

    @classmethod
    def of(cls, s: SignalRecord, instant: Instant) -> Signal:
        return make_signal(s, instant)


#: ``Signal(record=, instant=)``, positionally and at half the cost (schema.view)
make_signal: Callable[[SignalRecord, Instant], Signal] = constructor(Signal)


@strawberry.type(description="One weighted component of a trader grade.")
class GradeComponent:
    name: str = strawberry.field(description="Component name, e.g. trend, momentum.")
    score: Decimal = strawberry.field(description="Component score, 0–100.")
    weight: Decimal | None = strawberry.field(
        description="Its weight in the grade (null when the source does not publish weights)."
    )


@strawberry.type(
    description="The composite trader grade, 0–100, with its component scores (docs/signals.md)."
)
class Grade:
    record: strawberry.Private[SignalRecord]
    value: Decimal = strawberry.field(description="The grade, 0–100.")
    direction: SignalDirection = strawberry.field(description="Bullish, bearish or neutral.")
    horizon: str = strawberry.field(description="The interval it was computed on.")
    computed_at: datetime = strawberry.field(description="When it was computed (UTC).")
    age_seconds: int = strawberry.field(description="Its age at the instant read.")
    source: str = strawberry.field(description="Who computed it.")

    @strawberry.field(
        description="The component scores behind the grade.",
        directives=[list_size(assumed_size=10)],
    )
    def components(self) -> list[GradeComponent]:
        return [
            GradeComponent(name=c.name, score=c.score, weight=c.weight)
            for c in grade_components(self.record.details)
        ]

    @classmethod
    def of(cls, s: SignalRecord, instant: Instant) -> Grade:
        return cls(
            record=s,
            value=s.value,
            direction=_direction(s.direction),
            horizon=s.horizon,
            computed_at=s.computed_at,
            age_seconds=instant.age_seconds(s.computed_at),
            source=s.source,
        )
