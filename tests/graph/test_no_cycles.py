"""A request leaves no cyclic garbage: everything it built is freed by reference counting.

graphql-core 3.3.2 stores helpers bound to the executor on the executor (a
cycle), which kept each request's context, loaders and their futures alive
until the cyclic GC ran; with many requests in flight that made the GC a third
of a request's cost (docs/performance.md, "The cyclic GC under load").
"""

from __future__ import annotations

import gc
import weakref
from collections import Counter

import pytest
from graphql.execution.executor import Executor

from app.main import create_app
from resolvers.context import Context
from schema.compiled.executor import _acyclic_helpers
from tests.conftest import gql, make_settings
from tests.graph.conftest import serve
from tests.graph.test_dashboard_statements import DASHBOARD, seed_dashboard


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "reference"])
async def test_a_dashboard_request_leaves_no_cyclic_garbage(db, compiled):
    await seed_dashboard(db, 5)
    settings = make_settings(db.url, cost_enforce=False, compiled_execution=compiled)
    async with serve(create_app(settings)) as served:
        assert "errors" not in await gql(served.client, DASHBOARD, {"n": 5})  # warm
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(3):
                body = await gql(served.client, DASHBOARD, {"n": 5})
                assert len(body["data"]["assets"]["edges"]) == 5
            gc.collect()
            found = Counter(type(o).__name__ for o in gc.garbage)
            ours = [o for o in gc.garbage if isinstance(o, Executor | Context)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert ours == [], f"cyclic garbage per 3 requests: {found.most_common(12)}"


class _Owner:
    def __init__(self) -> None:
        self.tracked: list[object] = []

    def gather_async_work(self, values: list[object]) -> list[object]:
        return ["gathered", *values]

    def track_async_work(self, values: list[object]) -> None:
        self.tracked.extend(values)


def test_helpers_reach_a_live_executor_and_refuse_a_finished_one():
    owner = _Owner()
    helpers = _acyclic_helpers(owner)  # type: ignore[arg-type]
    assert helpers.gather([1, 2]) == ["gathered", 1, 2]
    helpers.track([3])
    assert owner.tracked == [3]
    ref = weakref.ref(owner)
    del owner
    assert ref() is None  # the helpers do not keep it alive
    with pytest.raises(RuntimeError, match="after its operation finished"):
        helpers.gather([])
