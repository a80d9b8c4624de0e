"""A small strawberry schema exercising what plans must get exactly right.

Sync and async resolvers, a DataLoader (batching is counted), nested lists,
arguments with defaults, enums, custom scalars, aliases/fragments, resolvers
that raise, and non-null violations at several depths.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import strawberry
from aiodataloader import DataLoader

from schema.compiled.batch import batched, reads


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclass
class Ctx:
    price_loader: DataLoader
    calls: list[list[int]] = field(default_factory=list)
    #: sizes of the batch resolver calls (schema.compiled.batch)
    batch_calls: list[int] = field(default_factory=list)


def make_context() -> Ctx:
    calls: list[list[int]] = []

    async def load(keys: list[int]) -> list[Decimal | Exception]:
        calls.append(list(keys))
        # Only first-round loads fail (keys below 10**9): which of two failures in
        # different await rounds graphql-core reports depends on completion timing
        # (see schema/compiled/errors.py).
        return [
            RuntimeError(f"no price for {k}") if k % 13 == 5 and k < 10**9 else Decimal(k) / 4
            for k in keys
        ]

    # cache=False: graphql-core cancels sibling tasks after a non-null error, and a
    # cancelled task cancels the loader future it awaits; with a shared (cached)
    # future another resolver then sees CancelledError and the reference executor
    # fails the whole operation. The compiled path cancels nothing.
    return Ctx(price_loader=DataLoader(load, cache=False), calls=calls)


@strawberry.type
class Price:
    value: Decimal
    item_id: int

    @strawberry.field
    def doubled(self) -> Decimal:
        return self.value * 2


def _scaled(item_id: int, value: Decimal | None, scale: int) -> Price | None:
    if value is None or item_id % 11 == 4:
        return None  # a null: a non-null field reports it, a nullable one is null
    return Price(value=value * scale, item_id=item_id)


def _check_scale(scale: int) -> None:
    if scale < 0:
        raise ValueError(f"scale must not be negative, got {scale}")


async def _batched_prices(
    items: Sequence[Item], info: strawberry.Info, scale: int = 1
) -> list[Price | Exception | None]:
    ctx = info.context
    ctx.batch_calls.append(len(items))
    _check_scale(scale)
    loads = [ctx.price_loader.load(i.id) for i in items]
    values = await asyncio.gather(*loads, return_exceptions=True)
    return [
        v if isinstance(v, Exception) else _scaled(i.id, v, scale)
        for i, v in zip(items, values, strict=True)
    ]


def _shade(label: str) -> Colour:
    """A stored label to an enum member; some labels have none (the read then fails)."""
    if label.endswith("3"):
        raise ValueError(f"no shade for {label}")
    return Colour.RED if len(label) % 2 else Colour.GREEN


class Meta:
    """A record behind an item (absent for some: reading through it then fails)."""

    def __init__(self, i: int) -> None:
        self.label = f"label-{i}"
        self.rank = None if i % 4 == 1 else i


@strawberry.type
class Item:
    id: int
    name: str
    tags: list[str]
    colour: Colour
    meta: strawberry.Private[Meta | None] = None

    @strawberry.field
    @reads("meta.label")
    def label(self) -> str:
        return self.meta.label  # type: ignore[union-attr]

    @strawberry.field
    @reads("meta.rank")
    def rank(self) -> int | None:
        return self.meta.rank  # type: ignore[union-attr]

    @strawberry.field
    @reads("meta.label", via=_shade)
    def shade(self) -> Colour:
        return _shade(self.meta.label)  # type: ignore[union-attr]

    @strawberry.field
    def upper(self) -> str:
        return self.name.upper()

    @strawberry.field
    def boom(self) -> str | None:
        if self.id % 7 == 3:
            raise ValueError(f"boom {self.id}")
        return f"ok {self.id}"

    @strawberry.field
    def must(self) -> str:
        return None if self.id % 11 == 4 else f"must {self.id}"  # type: ignore[return-value]

    @strawberry.field
    async def price(self, info: strawberry.Info) -> Price | None:
        value = await info.context.price_loader.load(self.id)
        return Price(value=value, item_id=self.id)

    @strawberry.field
    async def strict_price(self, info: strawberry.Info) -> Price:
        value = await info.context.price_loader.load(self.id)
        return Price(value=value, item_id=self.id)

    @strawberry.field
    async def two_step(self, info: strawberry.Info) -> str:
        a = await info.context.price_loader.load(self.id)
        b = await info.context.price_loader.load(self.id + 10**9)
        return f"{a}/{b}"

    @strawberry.field
    @batched(_batched_prices)
    async def batched_price(self, info: strawberry.Info, scale: int = 1) -> Price | None:
        _check_scale(scale)
        value = await info.context.price_loader.load(self.id)
        return _scaled(self.id, value, scale)

    @strawberry.field
    @batched(_batched_prices)
    async def strict_batched_price(self, info: strawberry.Info, scale: int = 1) -> Price:
        _check_scale(scale)
        value = await info.context.price_loader.load(self.id)
        return _scaled(self.id, value, scale)  # type: ignore[return-value]

    @strawberry.field
    def children(self, first: int = 2) -> list[Item]:
        return [make_item(self.id * 10 + i) for i in range(max(0, min(first, 3)))]

    @strawberry.field
    def strict_children(self, first: int = 2) -> list[Item]:
        return [make_item(self.id * 10 + i) for i in range(max(0, min(first, 3)))]

    @strawberry.field
    def maybe_tags(self) -> list[str | None] | None:
        return [t if i % 2 == 0 else None for i, t in enumerate(self.tags)]

    @strawberry.field
    def strict_tags(self) -> list[str]:
        return [t if i % 3 else None for i, t in enumerate(self.tags)]  # type: ignore[misc]


def make_item(i: int) -> Item:
    return Item(
        id=i,
        name=f"item-{i}",
        tags=[f"t{i % 5}", f"u{i % 3}", "x"],
        colour=Colour.RED if i % 2 else Colour.GREEN,
        meta=None if i % 5 == 2 else Meta(i),
    )


@strawberry.type
class Query:
    @strawberry.field
    def items(self, first: int = 3, offset: int = 0) -> list[Item]:
        return [make_item(i) for i in range(offset, offset + max(0, min(first, 40)))]

    @strawberry.field
    def strict_items(self, first: int = 3) -> list[Item]:
        return [make_item(i) for i in range(max(0, min(first, 40)))]

    @strawberry.field
    def item(self, id: int) -> Item | None:
        return make_item(id) if id >= 0 else None

    @strawberry.field
    def colour(self, c: Colour = Colour.RED) -> Colour:
        return c

    @strawberry.field
    def echo(self, text: str = "hi", times: int = 1) -> str:
        return text * max(0, min(times, 5))

    @strawberry.field
    async def slow(self) -> int:
        return 42
