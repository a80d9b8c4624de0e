"""A small schema exercising every pricing rule, independent of the real graph.

Lists come back shorter than their declared sizes (``coins(first: n)`` returns
at most 3 coins), so actual costs differ from estimates in known ways.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import strawberry
from strawberry.extensions import SchemaExtension

from cost.directives import cost, list_size
from cost.extension import CostExtension, CostRequest

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class Point:
    t: datetime
    v: float


@strawberry.type
class Tag:
    name: str


@strawberry.type
class Gas:
    base_fee: int


@strawberry.type
class Chain(Node):
    name: str

    @strawberry.field(directives=[cost(5)])
    def gas(self) -> Gas:
        return Gas(base_fee=7)


@strawberry.type
class CoinEdge:
    cursor: str
    node: Coin


@strawberry.type
class PageInfo:
    has_next_page: bool


@strawberry.type
class CoinConnection:
    edges: list[CoinEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Coin]:
        return [e.node for e in self.edges]


def _coins(n: int) -> CoinConnection:
    coins = [Coin(id=strawberry.ID(f"c{i}"), symbol=f"C{i}") for i in range(min(n, 3))]
    return CoinConnection(
        edges=[CoinEdge(cursor=c.id, node=c) for c in coins],
        page_info=PageInfo(has_next_page=n > 3),
    )


@strawberry.type
class Coin(Node):
    symbol: str

    @strawberry.field(directives=[cost(2)])
    def price(self) -> float:
        return 1.5

    @strawberry.field(directives=[list_size(assumed_size=5)])
    def tags(self) -> list[Tag]:
        return [Tag(name="a"), Tag(name="b")]

    @strawberry.field(directives=[list_size(assumed_size=100, slicing_arguments=["last"])])
    def series(
        self,
        interval: str,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        last: int | None = None,
    ) -> list[Point]:
        step = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}[interval]
        end = to or NOW
        start = from_ or end - step * (last or 10)
        points = []
        t = start
        while t <= end:
            points.append(Point(t=t, v=1.0))
            t += step
        return points[-last:] if last else points

    @strawberry.field(
        directives=[list_size(slicing_arguments=["first"], sized_fields=["edges", "nodes"])]
    )
    def related(self, first: int = 10) -> CoinConnection:
        return _coins(first)


SearchResult = Annotated[Coin | Chain, strawberry.union("SearchResult")]


@strawberry.type
class Query:
    @strawberry.field
    def coin(self, id: str) -> Coin | None:
        return Coin(id=strawberry.ID(id), symbol=id.upper()) if id != "none" else None

    @strawberry.field(
        directives=[list_size(slicing_arguments=["first"], sized_fields=["edges", "nodes"])]
    )
    def coins(self, first: int = 10) -> CoinConnection:
        return _coins(first)

    @strawberry.field
    def node(self, id: str) -> Node | None:
        if id.startswith("chain"):
            return Chain(id=strawberry.ID(id), name="Ethereum")
        return Coin(id=strawberry.ID(id), symbol="X")

    @strawberry.field(directives=[list_size(slicing_arguments=["limit"])])
    def search(self, q: str, limit: int = 5) -> list[SearchResult]:
        return [Chain(id=strawberry.ID("chain1"), name=q), Coin(id=strawberry.ID("c1"), symbol=q)]

    @strawberry.field(directives=[cost(0)])
    def ping(self) -> str:
        return "pong"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self, n: int = 3) -> AsyncGenerator[Coin, None]:
        for i in range(n):
            CALLS.append("ticks-event")
            yield Coin(id=strawberry.ID(f"t{i}"), symbol="T")


CALLS: list[str] = []


class CallCounter(SchemaExtension):
    """Counts every field resolution: the proof that nothing executed."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        CALLS.append(info.field_name)
        return _next(root, info, *args, **kwargs)


def bind(context: Any) -> CostRequest | None:
    return context.get("cost") if isinstance(context, dict) else None


def toy_schema(**extension_kw: Any) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        subscription=Subscription,
        types=[Chain, Coin],
        extensions=[lambda: CostExtension(bind=bind, **extension_kw), CallCounter],
    )
