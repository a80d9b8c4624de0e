"""A small schema with the server's policy extensions, for exact limit boundaries.

The product schema changes as the graph grows; the limits and the error policy
must hold for any schema, so their boundaries are tested here on a recursive
type whose resolvers count their calls (a rejected document must call none).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig

from app.main import server_extensions
from app.settings import Settings
from resolvers.errors import NotFound

CALLS: Counter[str] = Counter()


@strawberry.type
class Node:
    depth: int

    @strawberry.field
    def child(self) -> Node:
        CALLS["child"] += 1
        return Node(depth=self.depth + 1)

    @strawberry.field
    def name(self) -> str:
        return f"n{self.depth}"


@strawberry.type
class Query:
    @strawberry.field
    def node(self) -> Node:
        CALLS["node"] += 1
        return Node(depth=1)

    @strawberry.field
    def boom(self) -> str | None:
        raise RuntimeError("connection to postgresql://app:hunter2@db failed")

    @strawberry.field
    def missing(self) -> str | None:
        raise NotFound("no such thing")

    @strawberry.field
    def plain(self) -> str | None:
        raise GraphQLError("a plain GraphQLError from a resolver")

    @strawberry.field
    def when(self, at: datetime) -> str:
        return at.isoformat()


def toy_schema(**settings: object) -> strawberry.Schema:
    s = Settings(env="test", **settings)  # type: ignore[arg-type]
    return strawberry.Schema(
        query=Query,
        config=StrawberryConfig(disable_field_suggestions=True),
        extensions=server_extensions(s),
    )


def deep(depth: int) -> str:
    """A query whose deepest field is at ``depth`` (``node`` is 1)."""
    inner = "name"
    for _ in range(depth - 2):
        inner = f"child {{ {inner} }}"
    return f"{{ node {{ {inner} }} }}"
