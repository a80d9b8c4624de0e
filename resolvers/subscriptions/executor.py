"""A graphql-core executor that does not retain memory per subscription event.

graphql-core 3.3.2 builds each event's executor with a shallow ``copy`` of the
subscription's executor, so every event shares (and grows) the parent's
``_relevant_sub_fields`` memo: it is keyed on ``id()`` of per-event field
lists and keeps those lists alive, about 0.9 KB per event for the life of the
subscription (see docs/subscriptions.md, "Memory"). Giving each per-event
executor its own empty memo keeps the memo's benefit within one event and
frees everything when the event is done. The same applies to ``_stream_usages``
(a per-execution map used by ``@stream``).

Used by the shared topics (one execution per event per topic) and passed to
strawberry as the schema's ``execution_context_class`` so any other
subscription path (HTTP multipart subscriptions) is covered too.
"""

from __future__ import annotations

from typing import Any

from graphql.execution.executor import Executor
from graphql.pyutils import RefMap
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class EventScopedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor (typed ``Info``, coerced variables) with per-event memos."""

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        executor._stream_usages = RefMap()
        return executor
