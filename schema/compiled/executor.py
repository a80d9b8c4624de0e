"""A graphql-core ``Executor`` that runs queries through cached plans.

Strawberry hands every operation to graphql-core's executor class; this
subclass intercepts ``execute_operation`` for queries: it looks up (or builds
once) the plan for the document, builds per-request arguments that depend on
variables, and runs the plan (:mod:`schema.compiled.run`). Everything around
execution — parsing, validation, extensions (cost, masking), error formatting —
stays strawberry's. Operations the plan cannot model run on the reference
executor, and both outcomes are counted (:data:`STATS`).
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    OperationType,
)
from graphql.execution.executor import CollectedErrors, Executor
from graphql.execution.values import get_argument_values
from strawberry.schema.schema import (
    Schema as StrawberrySchema,
)
from strawberry.schema.schema import (
    StrawberryGraphQLCoreExecutionContext,
    _OperationContextAwareGraphQLResolveInfo,
)
from strawberry.types.arguments import convert_arguments

from cost.analysis import frozen_variables
from resolvers.context import Context
from schema.compiled.errors import canonical_errors
from schema.compiled.plan import FieldPlan, OperationPlan, PlanBuilder, Unsupported
from schema.compiled.run import Run

#: executions by path: "compiled", "fallback:<reason class>", "reference" (disabled)
STATS: Counter[str] = Counter()
_CACHE_SIZE = 512


class PlanCache:
    """LRU of plans keyed by (schema id, document text, operation name)."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self._plans: OrderedDict[tuple[int, str, str | None], OperationPlan | str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str, str | None]) -> OperationPlan | str | None:
        with self._lock:
            plan = self._plans.get(key)
            if plan is not None:
                self._plans.move_to_end(key)
            return plan

    def put(self, key: tuple[int, str, str | None], plan: OperationPlan | str) -> None:
        with self._lock:
            self._plans[key] = plan
            if len(self._plans) > self.size:
                self._plans.popitem(last=False)


PLANS = PlanCache()


class CompiledExecutor(StrawberryGraphQLCoreExecutionContext):
    """Use with ``strawberry.Schema(..., execution_context_class=CompiledExecutor)``.

    Strawberry keeps a back-reference ``graphql_schema._strawberry_schema``; plans
    use it so arguments convert exactly as strawberry converts them.
    """

    enabled = True
    #: tests only: sees every error a compiled run collected, before canonicalisation
    raw_errors_hook: Callable[[list[GraphQLError]], None] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = _acyclic_helpers(self)
        # Keep every error: schema.compiled.errors picks the canonical ones, so the
        # answer does not depend on which failure graphql-core happened to see first.
        self.collected_errors = _AllErrors()

    def execute_operation(self, serially: bool | None = None) -> Any:
        plan = self._plan()
        if plan is None:
            # graphql-core cancels a failed field's siblings: loads must not share
            # a future a cancelled sibling could cancel for the others.
            context = self.context_value
            if isinstance(context, Context) and getattr(context, "loaders", None) is not None:
                context.loaders.shield_loads()
            return self._canonical(super().execute_operation(serially))
        try:
            kwargs = self._variable_kwargs(plan)
        except GraphQLError as error:
            return ExecutionResult(None, [error])
        run = Run(
            context=self.context_value,
            root_value=self.root_value,
            make_raw_info=self._raw_info,
            kwargs_by_field=kwargs,
        )
        STATS["compiled"] += 1
        return self._finish(run, run.execute(plan.root))

    async def _finish(self, run: Run, data: Awaitable[dict[str, Any] | None]) -> ExecutionResult:
        result = await data
        raw = run.errors_list()
        if self.raw_errors_hook is not None:
            self.raw_errors_hook(raw)
        return ExecutionResult(result, self._errors(raw))

    def _errors(self, errors: list[GraphQLError] | None) -> list[GraphQLError] | None:
        return canonical_errors(self.schema, errors, self.operation, self.fragment_definitions)

    def _canonical(self, result: Any) -> Any:
        """Apply :func:`canonical_errors` to a reference result (value or awaitable)."""
        if isinstance(result, ExecutionResult):
            result.errors = self._errors(result.errors)
            return result
        if isinstance(result, Awaitable):

            async def finish() -> Any:
                return self._canonical(await result)

            return finish()
        return result

    def _raw_info(self, fp: FieldPlan) -> GraphQLResolveInfo[Any]:
        """The same resolve info strawberry builds, minus the per-object path."""
        assert fp.graphql_field is not None
        return _OperationContextAwareGraphQLResolveInfo(  # type: ignore[return-value]
            fp.name,
            fp.field_nodes,
            fp.graphql_field.type,
            fp.parent_type,
            None,  # type: ignore[arg-type]  # PlanInfo.path supplies it on demand
            self.schema,
            self.fragment_definitions,
            self.root_value,
            self.operation,
            self.variable_values.coerced,
            self.context_value,
            self.is_awaitable,
            self.abort_signal,
            self.async_helpers,
            self.operation_extensions,
        )

    def _plan(self) -> OperationPlan | None:
        mm = self.middleware_manager
        if not self.enabled or (mm is not None and mm.middlewares):
            STATS["reference"] += 1
            return None
        op = self.operation
        if op.operation != OperationType.QUERY or op.directives:
            STATS["fallback:operation"] += 1
            return None
        loc = op.loc
        if loc is None:
            STATS["fallback:no-source"] += 1
            return None
        key = (id(self.schema), loc.source.body, op.name.value if op.name else None)
        cached = PLANS.get(key)
        if cached is None:
            try:
                cached = self._build(op)
            except Unsupported as why:
                cached = f"fallback:{str(why).split(' ', 1)[0]}"
            PLANS.put(key, cached)
        if isinstance(cached, str):
            STATS[cached] += 1
            return None
        return cached

    def _build(self, op: Any) -> OperationPlan:
        sb: StrawberrySchema | None = getattr(self.schema, "_strawberry_schema", None)
        if sb is None:
            raise Unsupported("schema not attached")
        root_type = self.schema.query_type
        assert root_type is not None
        builder = PlanBuilder(
            self.schema,
            self.fragment_definitions,
            lambda fp, _vars: _convert(sb, fp, None),
        )
        root = builder.object_plan(root_type, [op.selection_set])
        return OperationPlan(root=root, variable_fields=builder.variable_fields)

    def _variable_kwargs(self, plan: OperationPlan) -> dict[int, dict[str, Any]]:
        """The variable fields' converted arguments, converted once per distinct variables.

        A dashboard sends the same variables request after request; converting them
        (graphql-core's argument values, then strawberry's input types) is a fixed
        cost per request otherwise. The converted values are shared like the plan's
        static arguments: resolvers never mutate their arguments.
        """
        if not plan.variable_fields:
            return {}
        key = frozen_variables(self.variable_values.coerced)
        memo = plan.kwargs_memo
        if key is not None:
            found = memo.get(key)
            if found is not None:
                return found
        sb: StrawberrySchema = self.schema._strawberry_schema  # type: ignore[attr-defined]
        kwargs = {id(fp): _convert(sb, fp, self.variable_values) for fp in plan.variable_fields}
        if key is not None:
            if len(memo) >= _KWARGS_MEMO_SIZE:
                memo.clear()
            memo[key] = kwargs
        return kwargs


_KWARGS_MEMO_SIZE = 64


def _convert(sb: StrawberrySchema, fp: FieldPlan, variable_values: Any) -> dict[str, Any]:
    assert fp.graphql_field is not None
    assert fp.strawberry_field is not None
    raw = get_argument_values(fp.graphql_field, fp.field_nodes[0], variable_values)
    return convert_arguments(
        raw,
        fp.strawberry_field.arguments,
        scalar_registry=sb.schema_converter.scalar_registry,
        config=sb.config,
    )


class _AllErrors(CollectedErrors):
    def add(self, error: GraphQLError, path: Any) -> None:
        self._errors.append(error)


def _acyclic_helpers(executor: Executor[Any]) -> GraphQLResolveInfoHelpers:
    """``info.async_helpers`` without a reference cycle through the executor.

    graphql-core 3.3.2 stores ``GraphQLResolveInfoHelpers`` of the executor's own
    bound methods on the executor: a cycle, so the executor — and through its
    ``context_value`` everything a request built (loaders, their futures and keys,
    about 490 objects for 100 assets) — outlived the request until the cyclic GC
    found it, and only a collection could free it: at two ticker requests in flight
    the young generation was collected 51.7 times per 1,000 requests, and 1.7
    times without the cycle (docs/performance.md, "The cyclic GC under load"). The helpers
    reach the executor through a weak reference instead; it is alive for as long
    as any of its resolvers runs, and a stale ``info`` kept past the operation
    gets a clear error.
    """
    ref = weakref.ref(executor)

    def alive() -> Executor[Any]:
        found = ref()
        if found is None:
            raise RuntimeError("info.async_helpers used after its operation finished")
        return found

    def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        return alive().gather_async_work(values)

    def track(values: Sequence[Any]) -> None:
        alive().track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)


class ReferenceExecutor(CompiledExecutor):
    """graphql-core's executor with the same canonical error list (no plans)."""

    enabled = False
