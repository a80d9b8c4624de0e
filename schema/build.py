"""Schema assembly: types, directives and extensions in one place."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from schema.root import Query


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        config=StrawberryConfig(disable_field_suggestions=True),
    )
