"""Schema assembly: types, directives and extensions in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import BatchingConfig, StrawberryConfig
from strawberry.types import ExecutionContext

from cost.extension import CostExtension
from resolvers.subscriptions.executor import EventScopedExecutor
from schema.compiled.executor import CompiledExecutor, ReferenceExecutor
from schema.lifecycle import LeanExtensionsRunner
from schema.ratelimit import CostQuery, bind_cost_request
from schema.root import Query
from schema.scopes import ScopeGuard
from schema.settle import SettleLoaders
from schema.subscriptions import Subscription

#: Strawberry builds one extension per request from each factory (a class or a callable).
ExtensionFactory = Callable[[], SchemaExtension]


class ServerExecutor(CompiledExecutor, EventScopedExecutor):
    """Queries through cached plans (schema/compiled); subscriptions without the
    per-event memory growth of graphql-core 3.3.2 (resolvers/subscriptions)."""


class ReferenceServerExecutor(ReferenceExecutor, EventScopedExecutor):
    """graphql-core's executor (compiled path off), with the same error list."""


class Schema(strawberry.Schema):
    """Strawberry's schema with extension hooks entered without per-request
    decoration (schema/lifecycle.py)."""

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return LeanExtensionsRunner(execution_context=execution_context, extensions=extensions)


def build_schema(
    *,
    compiled_execution: bool = True,
    extensions: Sequence[ExtensionFactory] = (),
    field_suggestions: bool = False,
    max_batch_operations: int = 0,
) -> strawberry.Schema:
    """The schema; the server passes its policy extensions (limits, error masking) first.

    ``field_suggestions`` ("Did you mean …?") leak field names when introspection
    is off, so the server turns them on only in development.
    ``max_batch_operations`` 0 keeps array batching off.
    """
    batching: BatchingConfig | None = None
    if max_batch_operations > 0:
        batching = BatchingConfig(max_operations=max_batch_operations)
    return Schema(
        query=_with_cost_fields(Query),
        # Live data (schema/subscriptions.py, docs/subscriptions.md); the executor class keeps
        # graphql-core 3.3.2 from retaining memory per subscription event.
        subscription=Subscription,
        execution_context_class=ServerExecutor if compiled_execution else ReferenceServerExecutor,
        config=StrawberryConfig(
            disable_field_suggestions=not field_suggestions,
            batching_config=batching,
        ),
        # ScopeGuard: per-field API-key scopes as a validation rule (schema/scopes.py).
        # SettleLoaders: no loader batch outlives its operation (schema/settle.py).
        extensions=[*extensions, ScopeGuard, _cost_extension, SettleLoaders],
    )


def _cost_extension() -> SchemaExtension:
    """Prices, limits and charges every operation (cost/extension.py, docs/cost.md)."""
    return CostExtension(bind=bind_cost_request)


def _with_cost_fields(query: type) -> type:
    """The root Query plus ``rateLimit`` and ``costModel`` (schema/ratelimit.py)."""
    merged = type(query.__name__, (query, CostQuery), {})
    description = query.__strawberry_definition__.description  # type: ignore[attr-defined]
    return strawberry.type(merged, description=description)
