"""The typed ``Info`` every field resolver receives."""

from __future__ import annotations

from typing import Any, TypeAlias

import strawberry

from resolvers.context import Context

Info: TypeAlias = strawberry.Info[Context, Any]
