"""``schema.lifecycle.LeanExtensionsRunner`` enters and leaves extension hooks exactly
as strawberry's own runner does: same order, same exception flow, same refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from schema.lifecycle import LeanExtensionsRunner


def make_extensions(log: list[str], *, swallow: bool = False) -> list[SchemaExtension]:
    class Gen(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            log.append("gen in")
            try:
                yield
            except ValueError as exc:
                log.append(f"gen saw {exc}")
                if not swallow:
                    raise
            finally:
                log.append("gen out")

        def on_parse(self) -> Iterator[None]:
            log.append("gen parse")
            yield

    class AsyncGen(SchemaExtension):
        async def on_operation(self) -> AsyncIterator[None]:
            log.append("agen in")
            await asyncio.sleep(0)
            try:
                yield
            except ValueError as exc:
                log.append(f"agen saw {exc}")
                raise RuntimeError("replaced") from exc
            log.append("agen out")

    class Plain(SchemaExtension):
        def on_operation(self) -> None:  # type: ignore[override]
            log.append("plain")

    class Coro(SchemaExtension):
        async def on_operation(self) -> None:  # type: ignore[override]
            log.append("coro")

    class Nothing(SchemaExtension):
        pass

    return [Gen(), AsyncGen(), Plain(), Coro(), Nothing()]


async def run(runner_class: type[SchemaExtensionsRunner], fail: bool, swallow: bool) -> Any:
    log: list[str] = []
    runner = runner_class(execution_context=None, extensions=make_extensions(log, swallow=swallow))  # type: ignore[arg-type]
    outcome = "ok"
    try:
        async with runner.operation():
            log.append("body")
            if fail:
                raise ValueError("boom")
    except BaseException as exc:
        outcome = f"{type(exc).__name__}: {exc} (context {type(exc.__context__).__name__})"
    async with runner.parsing():
        log.append("parse body")
    return log, outcome


@pytest.mark.parametrize(("fail", "swallow"), [(False, False), (True, False), (True, True)])
async def test_same_order_and_exception_flow_as_strawberry(fail: bool, swallow: bool):
    ours = await run(LeanExtensionsRunner, fail, swallow)
    theirs = await run(SchemaExtensionsRunner, fail, swallow)
    assert ours == theirs
    if fail:  # the async generator replaced the error on its way out
        assert ours[1].startswith("RuntimeError: replaced")


def test_sync_entry_refuses_async_hooks_and_runs_sync_ones():
    for runner_class in (LeanExtensionsRunner, SchemaExtensionsRunner):
        log: list[str] = []
        runner = runner_class(execution_context=None, extensions=make_extensions(log))  # type: ignore[arg-type]
        refused = pytest.raises(RuntimeError, match="failed to complete synchronously")
        with refused, runner.operation():
            pass
        with runner.parsing():
            log.append("parse body")
        assert log[-2:] == ["gen parse", "parse body"]
