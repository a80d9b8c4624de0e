"""The memoised DateTime serialiser prints exactly what ``isoformat`` prints."""

from __future__ import annotations

import operator
from datetime import UTC, datetime, timedelta, timezone

from schema.compiled.plan import _memo_isoformat


def test_memoised_isoformat_keeps_zones_apart_and_matches_isoformat():
    serialize, _memo = _memo_isoformat(operator.methodcaller("isoformat"))
    utc = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    plus2 = utc.astimezone(timezone(timedelta(hours=2)))
    assert utc == plus2  # the same instant ...
    for _ in range(2):  # ... printed in its own zone, from the memo the second time
        assert serialize(utc) == "2026-11-27T12:00:00+00:00"
        assert serialize(plus2) == "2026-11-27T14:00:00+02:00"
    naive = datetime(2026, 11, 27, 12, 0)
    assert serialize(naive) == naive.isoformat()

    class Clock(datetime):
        def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
            return "subclass"

    assert serialize(Clock(2026, 1, 1, tzinfo=UTC)) == "subclass"  # not memoised


def test_memo_is_bounded():
    serialize, _memo = _memo_isoformat(operator.methodcaller("isoformat"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(10_000):
        t = start + timedelta(seconds=i)
        assert serialize(t) == t.isoformat()
    cells = serialize.__closure__  # type: ignore[attr-defined]
    memo = next(c.cell_contents for c in cells if isinstance(c.cell_contents, dict))
    assert len(memo) <= 4096


def test_memoised_enum_serialisation_matches_and_is_bounded():
    from enum import Enum

    import pytest
    from graphql import GraphQLEnumType, GraphQLError

    from schema.compiled.plan import _memo_serialize

    class Side(Enum):
        UP = "up"
        DOWN = "down"

    gql_enum = GraphQLEnumType("Side", {"UP": Side.UP, "DOWN": Side.DOWN})
    serialize, memo = _memo_serialize(gql_enum)
    for _ in range(2):  # computed, then from the memo
        assert serialize(Side.UP) == "UP" and serialize(Side.DOWN) == "DOWN"
    with pytest.raises(GraphQLError):
        serialize("sideways")
    with pytest.raises(GraphQLError):  # a failure is not remembered as a value
        serialize("sideways")
    # many distinct objects with one valid value: each is remembered, the memo stays bounded
    assert memo == {id(Side.UP): "UP", id(Side.DOWN): "DOWN"}  # what generated code reads
    numbers, number_memo = _memo_serialize(GraphQLEnumType("N", {"ONE": 1.0}))
    for i in range(1_000):
        assert numbers(float(f"1.{'0' * (i % 5)}")) == "ONE"
    cells = numbers.__closure__  # type: ignore[attr-defined]
    dicts = [c.cell_contents for c in cells if isinstance(c.cell_contents, dict)]
    assert len(dicts) == 2  # the memo and the values it keeps alive, cleared together
    assert all(0 < len(d) <= 256 for d in dicts) and len(dicts[0]) == len(dicts[1])
    # every id in the memo names a live object that serialises to what is stored
    kept = next(d for d in dicts if d is not number_memo)
    assert all(id(kept[k]) == k and numbers(kept[k]) == v for k, v in number_memo.items())
    assert serialize(Side.UP) == "UP"
