"""``schema.lifecycle.LeanExtensionsRunner`` enters and leaves extension hooks exactly
as strawberry's own runner does: same order, same exception flow, same refusals.

Strawberry's ``SchemaExtensionsRunner`` is the reference: it wraps each hook with
``contextlib.contextmanager``/``asynccontextmanager`` and enters them on an
``ExitStack``/``AsyncExitStack``, which is the behaviour the lean runner promises.
Each extension below logs what it does and what it sees; a run's log and the exception
that comes out (type, message, identity, ``__cause__``/``__context__`` chain) must be
the same under both runners.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import random
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from schema.build import Schema, build_schema
from schema.lifecycle import LeanExtensionsRunner, hook_of

RUNNERS = (LeanExtensionsRunner, SchemaExtensionsRunner)
STAGES = ("operation", "parsing", "validation", "executing")


class Probe:
    """What one run's extensions saw, shared by them."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.body: BaseException | None = None  # the exception raised inside the stage
        self.outer: BaseException | None = None  # the one being handled around the stage

    def tag(self, exc: BaseException) -> str:
        mark = " [body]" if exc is self.body else " [outer]" if exc is self.outer else ""
        return f"{type(exc).__name__}({exc}){mark}"


class Recording(SchemaExtension):
    probe: Probe
    label: str

    def note(self, what: str) -> None:
        self.probe.log.append(f"{self.label} {what}")

    def saw(self, exc: BaseException) -> None:
        self.note(f"saw {self.probe.tag(exc)}")


# --- behaviours: one extension class each, the same hook on all four stages -------------


def _on_every_stage(name: str, hook: Callable[..., Any]) -> type[Recording]:
    stages = dict.fromkeys(("on_operation", "on_parse", "on_validate", "on_execute"), hook)
    return type(name, (Recording,), stages)


def _pass(self: Recording) -> Iterator[None]:
    self.note("in")
    yield
    self.note("out")


def _observe(self: Recording) -> Iterator[None]:
    self.note("in")
    try:
        yield
    except BaseException as exc:
        self.saw(exc)
        raise
    self.note("out")


def _swallow(self: Recording) -> Iterator[None]:
    self.note("in")
    try:
        yield
    except Exception as exc:  # not BaseException: a cancellation goes on
        self.note(f"swallows {self.probe.tag(exc)}")
    self.note("out")


def _replace(self: Recording) -> Iterator[None]:
    self.note("in")
    try:
        yield
    except BaseException as exc:
        self.saw(exc)
        if isinstance(exc, GeneratorExit):  # being closed (left suspended): go quietly
            raise
        if "quiet" in self.label:
            raise LookupError(f"{self.label} replaced") from None
        raise LookupError(f"{self.label} replaced")  # noqa: B904 (implicit chaining on purpose)
    self.note("out")


def _fail_exit(self: Recording) -> Iterator[None]:
    self.note("in")
    yield
    self.note("fails on exit")
    raise KeyError(f"{self.label} exit")


def _recover_fail(self: Recording) -> Iterator[None]:
    self.note("in")
    try:
        yield
    except Exception as exc:
        self.note(f"swallows {self.probe.tag(exc)}")
    # raised outside the handler: the interpreter chains it to the stage's caller's
    # exception, ExitStack re-chains it to the one the hook was leaving with
    self.note("fails on exit")
    raise KeyError(f"{self.label} exit")


def _twice(self: Recording) -> Iterator[None]:
    self.note("in")
    yield
    self.note("between")
    yield
    self.note("out")


def _again(self: Recording) -> Iterator[None]:
    self.note("in")
    try:
        yield
    except Exception as exc:
        self.saw(exc)
        yield  # "didn't stop after throw()"
    self.note("out")


def _never(self: Recording) -> Iterator[None]:
    self.note("returns without yielding")
    return
    yield


def _enter_fail(self: Recording) -> Iterator[None]:
    self.note("fails on entry")
    raise OSError(f"{self.label} entry")
    yield


def _stop(self: Recording) -> Iterator[None]:
    self.note("in")
    yield
    raise StopIteration("inside")  # PEP 479: a RuntimeError comes out


async def _apass(self: Recording) -> AsyncIterator[None]:
    self.note("in")
    await asyncio.sleep(0)
    yield
    await asyncio.sleep(0)
    self.note("out")


async def _aobserve(self: Recording) -> AsyncIterator[None]:
    self.note("in")
    try:
        yield
    except BaseException as exc:
        self.saw(exc)
        await asyncio.sleep(0)
        raise
    self.note("out")


async def _aswallow(self: Recording) -> AsyncIterator[None]:
    self.note("in")
    try:
        yield
    except Exception as exc:
        await asyncio.sleep(0)
        self.note(f"swallows {self.probe.tag(exc)}")
    self.note("out")


async def _areplace(self: Recording) -> AsyncIterator[None]:
    self.note("in")
    try:
        yield
    except BaseException as exc:
        self.saw(exc)
        if isinstance(exc, GeneratorExit):
            raise
        raise LookupError(f"{self.label} replaced") from exc
    self.note("out")


async def _afail_exit(self: Recording) -> AsyncIterator[None]:
    self.note("in")
    yield
    await asyncio.sleep(0)
    self.note("fails on exit")
    raise KeyError(f"{self.label} exit")


async def _arecover_fail(self: Recording) -> AsyncIterator[None]:
    self.note("in")
    try:
        yield
    except Exception as exc:
        self.note(f"swallows {self.probe.tag(exc)}")
    await asyncio.sleep(0)
    self.note("fails on exit")
    raise KeyError(f"{self.label} exit")


async def _atwice(self: Recording) -> AsyncIterator[None]:
    self.note("in")
    yield
    self.note("between")
    yield
    self.note("out")


async def _aagain(self: Recording) -> AsyncIterator[None]:
    self.note("in")
    try:
        yield
    except Exception as exc:
        self.saw(exc)
        yield  # "didn't stop after athrow()"
    self.note("out")


async def _anever(self: Recording) -> AsyncIterator[None]:
    self.note("returns without yielding")
    await asyncio.sleep(0)
    return
    yield


async def _aenter_fail(self: Recording) -> AsyncIterator[None]:
    self.note("fails on entry")
    await asyncio.sleep(0)
    raise OSError(f"{self.label} entry")
    yield


async def _astop(self: Recording) -> AsyncIterator[None]:
    self.note("in")
    yield
    raise StopAsyncIteration("inside")  # PEP 525: a RuntimeError comes out


def _plain(self: Recording) -> None:
    self.note("called")


def _plain_fail(self: Recording) -> None:
    self.note("called, fails")
    raise OSError(f"{self.label} call")


async def _coro(self: Recording) -> None:
    await asyncio.sleep(0)
    self.note("awaited")


async def _coro_fail(self: Recording) -> None:
    self.note("awaited, fails")
    raise OSError(f"{self.label} call")


SYNC = {
    name: _on_every_stage(name, fn)
    for name, fn in {
        "pass": _pass,
        "observe": _observe,
        "swallow": _swallow,
        "replace": _replace,
        "replace-quiet": _replace,
        "fail-exit": _fail_exit,
        "recover-fail": _recover_fail,
        "twice": _twice,
        "again": _again,
        "never": _never,
        "enter-fail": _enter_fail,
        "stop": _stop,
        "plain": _plain,
        "plain-fail": _plain_fail,
    }.items()
}
ASYNC = {
    name: _on_every_stage(name, fn)
    for name, fn in {
        "apass": _apass,
        "aobserve": _aobserve,
        "aswallow": _aswallow,
        "areplace": _areplace,
        "afail-exit": _afail_exit,
        "arecover-fail": _arecover_fail,
        "atwice": _atwice,
        "aagain": _aagain,
        "anever": _anever,
        "aenter-fail": _aenter_fail,
        "astop": _astop,
        "coro": _coro,
        "coro-fail": _coro_fail,
    }.items()
}
BEHAVIOURS = {**SYNC, **ASYNC, "none": type("none", (Recording,), {})}


def make_extensions(names: tuple[str, ...], probe: Probe) -> list[SchemaExtension]:
    extensions: list[SchemaExtension] = []
    for position, name in enumerate(names):
        ext = BEHAVIOURS[name]()
        ext.probe, ext.label = probe, f"{name}#{position}"
        extensions.append(ext)
    return extensions


# --- the harness: one stage under either runner -----------------------------------------


BODIES: dict[str, Callable[[], BaseException] | None] = {
    "clean": None,
    "ValueError": lambda: ValueError("boom"),
    "StopIteration": lambda: StopIteration("body"),
    "StopAsyncIteration": lambda: StopAsyncIteration("body"),
    "CancelledError": lambda: asyncio.CancelledError("body"),
}


def describe(exc: BaseException | None, probe: Probe, depth: int = 0) -> str:
    """The exception as far as semantics go: type, message, identity, chain."""
    if exc is None:
        return "ok"
    text = re.sub(r" at 0x[0-9a-f]+", "", probe.tag(exc))
    if depth > 6:
        return text + " ..."
    if exc.__cause__ is not None:
        text += f" cause=({describe(exc.__cause__, probe, depth + 1)})"
    if exc.__suppress_context__:
        text += " suppressed"
    if exc.__context__ is not None:
        text += f" context=({describe(exc.__context__, probe, depth + 1)})"
    return text


def snapshot(probe: Probe, outcome: BaseException | None) -> tuple[list[str], str]:
    """The log so far and the outcome, taken while the outcome is alive: generators left
    suspended by a failed entry are closed whenever they are collected, which is a
    garbage collector's detail (see
    test_a_failing_entry_leaves_earlier_hooks_entered_until_collected)."""
    return list(probe.log), describe(outcome, probe)


def _body(probe: Probe, body: str) -> None:
    probe.log.append("body")
    make = BODIES[body]
    if make is not None:
        probe.body = make()
        raise probe.body


async def run_async(
    runner_class: type[SchemaExtensionsRunner],
    names: tuple[str, ...],
    body: str,
    *,
    stage: str = "operation",
    outer: bool = False,
    probe: Probe | None = None,
) -> tuple[list[str], str]:
    """The log and the outcome of ``async with runner.<stage>(): <body>``, entered while
    an ``outer`` exception is being handled or not."""
    probe = probe or Probe()
    runner = runner_class(execution_context=None, extensions=make_extensions(names, probe))  # type: ignore[arg-type]

    async def enter() -> None:
        cm: AbstractAsyncContextManager[None] = getattr(runner, stage)()
        async with cm:
            _body(probe, body)

    try:
        if outer:
            try:
                raise NameError("outer")
            except NameError as exc:
                probe.outer = exc
                await enter()
        else:
            await enter()
    except BaseException as exc:
        return snapshot(probe, exc)
    return snapshot(probe, None)


def run_sync(
    runner_class: type[SchemaExtensionsRunner],
    names: tuple[str, ...],
    body: str,
    *,
    stage: str = "operation",
    outer: bool = False,
) -> tuple[list[str], str]:
    """:func:`run_async` through ``with`` (strawberry's ``execute_sync``)."""
    probe = Probe()
    runner = runner_class(execution_context=None, extensions=make_extensions(names, probe))  # type: ignore[arg-type]

    def enter() -> None:
        cm: AbstractContextManager[None] = getattr(runner, stage)()
        with cm:
            _body(probe, body)

    try:
        if outer:
            try:
                raise NameError("outer")
            except NameError as exc:
                probe.outer = exc
                enter()
        else:
            enter()
    except BaseException as exc:
        return snapshot(probe, exc)
    return snapshot(probe, None)


async def both_async(names: tuple[str, ...], body: str, **kw: Any) -> tuple[list[str], str]:
    ours, theirs = [await run_async(runner, names, body, **kw) for runner in RUNNERS]
    assert ours == theirs, (names, body, kw)
    return ours


def both_sync(names: tuple[str, ...], body: str, **kw: Any) -> tuple[list[str], str]:
    ours, theirs = [run_sync(runner, names, body, **kw) for runner in RUNNERS]
    assert ours == theirs, (names, body, kw)
    return ours


# --- named cases: what each behaviour does, checked against strawberry and spelled out ---


async def test_normal_enter_in_order_exit_in_reverse():
    log, outcome = await both_async(("pass", "apass", "plain", "coro", "none", "observe"), "clean")
    assert outcome == "ok"
    assert log == [
        "pass#0 in",
        "apass#1 in",
        "plain#2 called",
        "coro#3 awaited",
        "observe#5 in",
        "body",
        "observe#5 out",
        "apass#1 out",
        "pass#0 out",
    ]


@pytest.mark.parametrize("stage", STAGES)
async def test_every_stage_enters_its_own_hook(stage: str):
    log, outcome = await both_async(("observe", "aobserve"), "ValueError", stage=stage)
    assert log[-2:] == [
        "aobserve#1 saw ValueError(boom) [body]",
        "observe#0 saw ValueError(boom) [body]",
    ]
    assert outcome == "ValueError(boom) [body]"


async def test_exception_in_body_is_thrown_into_every_hook_and_comes_out_itself():
    log, outcome = await both_async(("observe", "pass", "aobserve", "apass"), "ValueError")
    assert log == [
        "observe#0 in",
        "pass#1 in",
        "aobserve#2 in",
        "apass#3 in",
        "body",
        "aobserve#2 saw ValueError(boom) [body]",
        "observe#0 saw ValueError(boom) [body]",
    ]
    assert outcome == "ValueError(boom) [body]"


@pytest.mark.parametrize("swallow", ["swallow", "aswallow"])
async def test_a_swallowing_hook_hides_the_exception_from_outer_hooks(swallow: str):
    log, outcome = await both_async(("observe", swallow, "aobserve"), "ValueError")
    assert log[-4:] == [
        "aobserve#2 saw ValueError(boom) [body]",
        f"{swallow}#1 swallows ValueError(boom) [body]",
        f"{swallow}#1 out",
        "observe#0 out",  # left as if nothing happened
    ]
    # the stage itself never suppresses (strawberry's __aexit__ returns None)
    assert outcome == "ValueError(boom) [body]"


@pytest.mark.parametrize("replace", ["replace", "replace-quiet", "areplace"])
async def test_a_hook_raising_on_exit_replaces_the_exception_for_outer_hooks(replace: str):
    log, outcome = await both_async(("aobserve", replace, "observe"), "ValueError")
    assert log[-3:] == [
        "observe#2 saw ValueError(boom) [body]",
        f"{replace}#1 saw ValueError(boom) [body]",
        f"aobserve#0 saw LookupError({replace}#1 replaced)",
    ]
    assert outcome.startswith(f"LookupError({replace}#1 replaced)")
    assert outcome.endswith("context=(ValueError(boom) [body])")


@pytest.mark.parametrize("fail", ["fail-exit", "afail-exit"])
async def test_an_exit_failure_without_a_body_exception(fail: str):
    log, outcome = await both_async(("observe", fail, "pass"), "clean")
    assert log[-3:] == [
        "pass#2 out",
        f"{fail}#1 fails on exit",
        f"observe#0 saw KeyError('{fail}#1 exit')",
    ]
    assert outcome == f"KeyError('{fail}#1 exit')"
    # an exception thrown into a failing hook is not its own failure: it goes through
    log, outcome = await both_async(("observe", fail, "fail-exit"), "clean")
    assert log[-2:] == ["fail-exit#2 fails on exit", "observe#0 saw KeyError('fail-exit#2 exit')"]
    assert outcome == "KeyError('fail-exit#2 exit')"


async def test_exit_failures_chain_like_nested_with_statements():
    # an exit failure inside an outer handler: ExitStack cuts the chain the interpreter
    # made to the outer exception, as a with statement in the handler would not make it
    _, outcome = await both_async(("fail-exit",), "clean", outer=True)
    assert outcome == "KeyError('fail-exit#0 exit')"
    # each replacement chains to the one before, down to the body's and the outer
    _, outcome = await both_async(("observe", "replace", "areplace"), "ValueError", outer=True)
    assert outcome == (
        "LookupError(replace#1 replaced) context=(LookupError(areplace#2 replaced)"
        " cause=(ValueError(boom) [body] context=(NameError(outer) [outer])) suppressed"
        " context=(ValueError(boom) [body] context=(NameError(outer) [outer])))"
    )
    # raised outside its handler, the interpreter chained it to the body's exception:
    # ExitStack re-chains it to the replacement it swallowed
    for recover in ("recover-fail", "arecover-fail"):
        log, outcome = await both_async((recover, "replace"), "ValueError")
        assert log[-2:] == [
            f"{recover}#0 swallows LookupError(replace#1 replaced)",
            f"{recover}#0 fails on exit",
        ]
        assert outcome == (
            f"KeyError('{recover}#0 exit') context=(LookupError(replace#1 replaced)"
            " context=(ValueError(boom) [body]))"
        )


@pytest.mark.parametrize("twice", ["twice", "atwice"])
async def test_a_generator_that_yields_twice(twice: str):
    log, outcome = await both_async(("observe", twice), "clean")
    assert log[-2:] == [f"{twice}#1 between", "observe#0 saw RuntimeError(generator didn't stop)"]
    assert outcome == "RuntimeError(generator didn't stop)"
    # with an exception the second yield is never reached: the error goes through
    _, outcome = await both_async(("observe", twice), "ValueError")
    assert outcome == "ValueError(boom) [body]"


@pytest.mark.parametrize(
    ("again", "message"),
    [
        ("again", "RuntimeError(generator didn't stop after throw())"),
        ("aagain", "RuntimeError(generator didn't stop after athrow())"),
    ],
)
async def test_a_generator_that_yields_again_after_an_exception(again: str, message: str):
    log, outcome = await both_async(("observe", again), "ValueError")
    assert log[-1] == f"observe#0 saw {message}"
    assert outcome == f"{message} context=(ValueError(boom) [body])"


@pytest.mark.parametrize("never", ["never", "anever"])
async def test_a_generator_that_never_yields(never: str):
    log, outcome = await both_async(("observe", never, "pass"), "clean")
    # refused on entry; the hooks entered before it are not left (as strawberry)
    assert log == ["observe#0 in", f"{never}#1 returns without yielding"]
    stop = "StopAsyncIteration" if never == "anever" else "StopIteration"
    assert outcome == f"RuntimeError(generator didn't yield) suppressed context=({stop}())"


@pytest.mark.parametrize("stop", ["stop", "astop"])
async def test_stop_iteration_raised_inside_a_hook(stop: str):
    log, outcome = await both_async(("observe", stop), "clean")
    assert log[-1].startswith("observe#0 saw RuntimeError(")
    assert outcome.startswith("RuntimeError(")


@pytest.mark.parametrize("body", ["StopIteration", "StopAsyncIteration", "CancelledError"])
async def test_special_exceptions_from_the_body(body: str):
    # thrown into a generator, a StopIteration comes back as a RuntimeError (PEP 479);
    # contextlib recognises it and lets the original through
    log, outcome = await both_async(("observe", "pass", "aobserve", "apass"), body)
    assert log[-2:] == [f"aobserve#2 saw {body}(body) [body]", f"observe#0 saw {body}(body) [body]"]
    # (a StopIteration leaving the harness's coroutine becomes a RuntimeError there)
    assert f"{body}(body) [body]" in outcome.split(" context=")[0]
    log, _ = await both_async(("observe", "swallow", "aswallow"), body)
    swallowed = body != "CancelledError"  # not an Exception
    assert (log[-1] == "observe#0 out") is swallowed


async def test_a_failing_entry_leaves_earlier_hooks_entered_until_collected():
    """Neither runner unwinds the hooks entered before a failing one (``async with``
    calls no ``__aexit__`` when ``__aenter__`` raises); the generators are closed when
    collected."""
    runs = []
    for failing in ("enter-fail", "aenter-fail", "plain-fail", "coro-fail", "never", "anever"):
        for runner in RUNNERS:
            probe = Probe()
            log, _ = await run_async(runner, ("observe", failing, "pass"), "clean", probe=probe)
            assert log == ["observe#0 in", log[1]], (runner, failing)
            runs.append((probe, log))
    gc.collect()
    for probe, log in runs:
        assert probe.log == [*log, "observe#0 saw GeneratorExit()"]


async def test_plain_and_async_callables_run_on_entry_only():
    log, outcome = await both_async(("plain", "coro", "observe", "plain", "coro"), "ValueError")
    assert log == [
        "plain#0 called",
        "coro#1 awaited",
        "observe#2 in",
        "plain#3 called",
        "coro#4 awaited",
        "body",
        "observe#2 saw ValueError(boom) [body]",
    ]
    assert outcome == "ValueError(boom) [body]"


# --- every pair, and random longer chains, in every situation ----------------------------


async def test_every_pair_of_behaviours_matches_strawberry():
    situations = [(body, outer) for body in BODIES for outer in (False, True)]
    for names in itertools.product(BEHAVIOURS, repeat=2):
        for body, outer in situations:
            await both_async(names, body, outer=outer)


async def test_random_chains_match_strawberry():
    rng = random.Random(20240611)
    # mostly well-behaved hooks, so that the odd ones sit at every depth
    weights = [
        1 if name.lstrip("a") in ("pass", "observe", "swallow") else 0.3 for name in BEHAVIOURS
    ]
    for _ in range(400):
        names = tuple(rng.choices(list(BEHAVIOURS), weights, k=rng.randint(3, 7)))
        await both_async(names, rng.choice(list(BODIES)), outer=rng.random() < 0.3)


# --- the synchronous path (strawberry's execute_sync) ----------------------------------


def test_sync_path_matches_strawberry_for_every_sync_pair():
    for names in itertools.product([*SYNC, "none"], repeat=2):
        for body in BODIES:
            for outer in (False, True):
                both_sync(names, body, outer=outer)
    rng = random.Random(7)
    for _ in range(200):
        names = tuple(rng.choices([*SYNC, "none"], k=rng.randint(3, 6)))
        both_sync(names, rng.choice(list(BODIES)), outer=rng.random() < 0.3)


def test_sync_path_refuses_async_hooks_after_entering_the_ones_before():
    for async_hook in ASYNC:
        log, outcome = both_sync(("observe", "plain", async_hook, "pass"), "clean")
        assert log == ["observe#0 in", "plain#1 called"]
        assert outcome == (
            f"RuntimeError(SchemaExtension hook <tests.graph.test_lifecycle.{async_hook} object>"
            ".on_operation failed to complete synchronously.)"
        )


def test_sync_path_in_order_with_exceptions():
    log, outcome = both_sync(("observe", "swallow", "replace", "pass", "plain"), "ValueError")
    assert log == [
        "observe#0 in",
        "swallow#1 in",
        "replace#2 in",
        "pass#3 in",
        "plain#4 called",
        "body",
        "replace#2 saw ValueError(boom) [body]",
        "swallow#1 swallows LookupError(replace#2 replaced)",
        "swallow#1 out",
        "observe#0 out",
    ]
    # the replacement was swallowed; the stage does not suppress: the body's error goes on
    assert outcome == "ValueError(boom) [body]"


# --- a hook that is not callable -------------------------------------------------------


def test_a_hook_that_is_not_callable_is_refused():
    class Broken(SchemaExtension):
        on_parse = 3  # type: ignore[assignment]

    with pytest.raises(ValueError, match="Hook on_parse on Broken must be callable"):
        hook_of(Broken, "on_parse")
    runner = LeanExtensionsRunner(execution_context=None, extensions=[Broken()])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be callable"):
        runner.parsing()
    runner.operation()  # the other stages do not care


# --- end to end: a real schema with extensions -----------------------------------------


def recording_extension(log: list[str]) -> type[SchemaExtension]:
    class Recorder(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            log.append("operation in")
            yield
            log.append(f"operation out, result {self.execution_context.result is not None}")

        async def on_parse(self) -> AsyncIterator[None]:
            log.append("parse in")
            yield
            log.append(f"parse out, document {self.execution_context.graphql_document is not None}")

        def on_validate(self) -> None:  # type: ignore[override]
            log.append("validate")

        async def on_execute(self) -> AsyncIterator[None]:
            log.append("execute in")
            try:
                yield
            finally:
                log.append("execute out")

    return Recorder


async def test_real_schema_runs_extensions_like_strawberry():
    runs = []
    for lean in (True, False):
        log: list[str] = []
        schema = build_schema(extensions=[recording_extension(log)])
        if not lean:
            schema.create_extensions_runner = (  # type: ignore[method-assign]
                lambda ctx, exts: SchemaExtensionsRunner(execution_context=ctx, extensions=exts)
            )
        ok = await schema.execute("{ __typename }")
        bad = await schema.execute("{ nosuchfield }")
        broken = await schema.execute("{ __typename")
        runs.append(
            (log, ok.data, ok.errors, [str(e) for e in bad.errors or []], str(broken.errors))
        )
    assert runs[0] == runs[1]
    log, data, errors, bad, _ = runs[0]
    assert data == {"__typename": "Query"}
    assert not errors
    assert bad
    assert log[:7] == [
        "operation in",
        "parse in",
        "parse out, document True",
        "validate",
        "execute in",
        "execute out",
        "operation out, result True",
    ]


def test_real_schema_sync_execution():
    log: list[str] = []

    class SyncRecorder(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            log.append("operation in")
            yield
            log.append("operation out")

        def on_execute(self) -> Iterator[None]:
            log.append("execute in")
            yield
            log.append("execute out")

    @strawberry.type
    class Query:
        @strawberry.field
        def hello(self) -> str:
            return "world"

    schema = Schema(query=Query, extensions=[SyncRecorder])
    result = schema.execute_sync("{ hello }")
    assert result.data == {"hello": "world"}
    assert log == ["operation in", "execute in", "execute out", "operation out"]
    runner = schema.create_extensions_runner(None, [])  # type: ignore[arg-type]
    assert isinstance(runner, LeanExtensionsRunner)
