"""schema.view.constructor builds the object the type's own __init__ builds."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import strawberry

from schema.assets import Asset, AssetEdge, make_asset, make_edge
from schema.prices import Price, make_price
from schema.signals import Signal, make_signal
from schema.view import constructor


@pytest.mark.parametrize(
    ("cls", "make", "names"),
    [
        (Signal, make_signal, ("record", "instant")),
        (Price, make_price, ("consensus",)),
        (Asset, make_asset, ("record", "instant")),
        (AssetEdge, make_edge, ("query", "row", "asset")),
    ],
)
def test_views_built_positionally_equal_their_keyword_construction(cls, make, names):
    values = [object() for _ in names]
    built = make(*values)
    expected = cls(**dict(zip(names, values, strict=True)))
    assert type(built) is cls
    assert vars(built) == vars(expected)
    assert built == expected  # dataclass equality: field by field


def test_types_whose_init_does_more_are_refused():
    @strawberry.type
    class WithDefault:
        a: int
        b: int = 2

    @dataclass
    class WithFactory:
        a: list[int] = field(default_factory=list)

    @dataclass
    class WithPostInit:
        a: int

        def __post_init__(self) -> None:
            self.a += 1

    @dataclass
    class WithNew:
        a: int

        def __new__(cls, *args: object, **kwargs: object) -> WithNew:
            return super().__new__(cls)

    for cls in (WithDefault, WithFactory, WithPostInit, WithNew, int):
        with pytest.raises(TypeError):
            constructor(cls)

    @strawberry.type
    class Plain:
        a: int
        b: str

    assert vars(constructor(Plain)(1, "x")) == vars(Plain(a=1, b="x"))
