"""The compiled path gives exactly the reference executor's result.

Operations are generated from the schema (hypothesis-graphql), including
fields that raise and non-null violations at several depths; both executors
run each operation and the serialised results must be identical — except for
the one timing-dependent choice documented in schema/compiled/errors.py, where
the data and the outermost nulled positions must still agree. Errors are
normalised the same way for both (schema.compiled.errors), as the server returns them.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import strawberry
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import queries

from schema.compiled.errors import DocumentOrder
from schema.compiled.executor import PLANS, STATS, CompiledExecutor, ReferenceExecutor
from schema.compiled.fast import Slow
from schema.compiled.plan import ATTR, OperationPlan
from tests.compiled.toy import Query, make_context, make_item

REFERENCE = strawberry.Schema(query=Query, execution_context_class=ReferenceExecutor)
COMPILED = strawberry.Schema(query=Query, execution_context_class=CompiledExecutor)
SDL = REFERENCE.as_str()


def canonical(result: Any) -> str:
    errors = [
        {
            "message": e.message,
            "path": e.path,
            "locations": [(l.line, l.column) for l in e.locations or []],
        }
        for e in result.errors or []
    ]
    return json.dumps({"data": result.data, "errors": errors}, default=str)


async def both(query: str, variables: dict[str, Any] | None = None) -> tuple[str, str]:
    ref = await REFERENCE.execute(query, variable_values=variables, context_value=make_context())
    before = STATS["compiled"]
    comp = await COMPILED.execute(query, variable_values=variables, context_value=make_context())
    assert STATS["compiled"] == before + 1, f"fell back: {dict(STATS)}"
    return canonical(ref), canonical(comp)


async def test_nested_lists_errors_and_nulls():
    q = """
    query Q($n: Int!) {
      items(first: $n) {
        id name upper colour tags boom must maybeTags
        price { value doubled itemId }
        strictPrice { value }
        twoStep
        children(first: 3) { id must boom strictTags children { id strictPrice { value } } }
        ...F
      }
      strictItems(first: 12) { id must }
      item(id: -1) { id }
      colour(c: GREEN)
      echo(times: 2)
      slow
      __typename
    }
    fragment F on Item { a: name b: upper c: price { value } }
    """
    ref, comp = await both(q, {"n": 20})
    assert ref == comp
    assert '"errors": []' not in ref  # the document really exercises error paths


async def test_pure_selections_run_generated_code_and_fall_back_exactly():
    # Item.children's selection is pure (attributes and sync resolvers only), so its
    # objects and lists complete through code generated from the plan; some of them
    # raise (boom), return null for a non-null field (must) or hold a null in a
    # non-null list (strictTags), and those fall back to the generic path.
    q = """{ items(first: 30) { id price { value } children(first: 3) {
        id name upper colour tags boom maybeTags __typename } } }"""
    ref, comp = await both(q)
    assert ref == comp
    assert '"data": {' in ref and "boom 3" in ref  # partial data, errors at their paths
    plan = PLANS.get((id(COMPILED._schema), q, None))
    assert isinstance(plan, OperationPlan)
    item = plan.root.fields[0].completer.item
    assert item is not None and item.plan is not None
    assert item.plan.fast is None  # price is async: generic path
    children = item.plan.fields[2].completer
    assert children.fast is not None
    assert children.item is not None and children.item.plan is not None
    assert children.item.plan.fast is not None
    for strict in ("must", "strictTags"):  # null for a non-null field / list item
        q = "{ items(first: 30) { id children(first: 3) { id " + strict + " } } }"
        ref, comp = await both(q)
        assert ref == comp
        assert f"Item.{strict}" in ref


async def test_loaders_batch_a_whole_level_in_one_call():
    ctx = make_context()
    q = "{ items(first: 30) { price { value } } }"
    result = await COMPILED.execute(q, context_value=ctx)
    assert result.data is not None
    assert len(ctx.calls) == 1
    assert len(ctx.calls[0]) == 30


async def test_batch_resolvers_run_once_per_level_and_match_per_object_resolvers():
    # batchedPrice declares a batch form: the compiled path calls it once for all the
    # objects of a level; graphql-core calls the per-object resolver. Loader failures
    # (an Exception per item), nulls, non-null violations (strictBatchedPrice) and a
    # batch that raises (scale: -1) must give the reference's data and errors.
    q = """{ items(first: 30) { id batchedPrice { value itemId }
        children(first: 3) { id s: batchedPrice(scale: 2) { value } } } }"""
    ctx = make_context()
    result = await COMPILED.execute(q, context_value=ctx)
    assert result.data is not None
    assert ctx.batch_calls == [30, 90]  # one call per level, not one per object
    ref, comp = await both(q)
    assert ref == comp
    assert "no price for 5" in ref and '"itemId": 16' in ref and '"batchedPrice": null' in ref
    q = """{ item(id: 4) { id strictBatchedPrice { value } }
        items(first: 8) { id children(first: 2) { strictBatchedPrice { value } } } }"""
    ref, comp = await both(q)
    assert ref == comp
    assert "Item.strictBatchedPrice" in ref
    ref, comp = await both("{ items(first: 5) { id batchedPrice(scale: -1) { value } } }")
    assert ref == comp
    assert ref.count("scale must not be negative") == 5


async def test_variable_arguments_are_converted_once_per_distinct_variables():
    q = "query V($n: Int!, $t: String) { items(first: $n) { id } echo(text: $t, times: 2) }"
    for variables in ({"n": 2, "t": "a"}, {"n": 2, "t": "a"}, {"n": 3, "t": "a"}):
        ref, comp = await both(q, variables)
        assert ref == comp
    plan = PLANS.get((id(COMPILED._schema), q, "V"))
    assert isinstance(plan, OperationPlan)
    assert len(plan.kwargs_memo) == 2  # {n: 2} once, {n: 3} once
    ref, comp = await both(q, {"n": 3, "t": "b"})
    assert ref == comp and '"echo": "bb"' in comp


async def test_introspection_falls_back_visibly():
    before = STATS["fallback:introspection"]
    result = await COMPILED.execute(
        "{ __schema { queryType { name } } }", context_value=make_context()
    )
    assert result.data == {"__schema": {"queryType": {"name": "Query"}}}
    assert STATS["fallback:introspection"] >= before + 1


async def test_variable_directives_fall_back_and_agree():
    q = "query($s: Boolean!) { items { id name @skip(if: $s) } }"
    ref = await REFERENCE.execute(q, variable_values={"s": True}, context_value=make_context())
    comp = await COMPILED.execute(q, variable_values={"s": True}, context_value=make_context())
    assert canonical(ref) == canonical(comp)


def _targets(result: Any, query: str) -> list[tuple[int, ...]]:
    """The nulled position (document-order key prefix) each reported error stands for."""
    document = parse(query)
    op = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    frags = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    order = DocumentOrder(REFERENCE._schema, op, frags)
    out = []
    for e in result.errors or []:
        _phase, key, depth = order.walk(list(e.path or []))
        out.append(key[:depth])
    return out


def _outermost(targets: list[tuple[int, ...]]) -> set[tuple[int, ...]]:
    """The nulled positions not inside another one: the nulls the data shows."""
    return {t for t in targets if not any(o != t and t[: len(o)] == o for o in targets)}


@settings(
    max_examples=int(os.environ.get("DIFFERENTIAL_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(query=queries(SDL))
async def test_generated_operations_match(query: str):
    raw: list[Any] = []
    CompiledExecutor.raw_errors_hook = raw.extend
    try:
        ref = await REFERENCE.execute(query, context_value=make_context())
        comp = await COMPILED.execute(query, context_value=make_context())
    finally:
        CompiledExecutor.raw_errors_hook = None
    if canonical(ref) == canonical(comp):
        return
    # The one documented difference (schema/compiled/errors.py): async resolvers that
    # fail in different await rounds where one failure's null covers the other's
    # position — graphql-core reports whichever finished first and drops (cancels) the
    # other. The data and the outermost nulled positions must still agree, and every
    # error the reference reports must be one the compiled run met.
    assert json.dumps(ref.data) == json.dumps(comp.data), query
    assert _outermost(_targets(ref, query)) == _outermost(_targets(comp, query)), query
    met = {(e.message, tuple(e.path or ())) for e in raw}
    for e in ref.errors or []:
        assert (e.message, tuple(e.path or ())) in met, (query, e.message, e.path)


async def test_declared_reads_are_read_directly_and_fail_as_the_resolver_does():
    # Item.label and Item.rank are resolvers declared as reads of self.meta.<x>
    # (schema.compiled.batch.reads): the plan reads the path, graphql-core calls the
    # resolver. Items without a record fail the read: a nullable field becomes null
    # with an error, a non-null one nulls its parent, on both paths alike.
    q = """{ items(first: 12) { id rank } strictItems(first: 12) { id rank }
            ok: item(id: 1) { id label shade } gone: item(id: 2) { id label }
            no_shade: item(id: 3) { id shade }
            item(id: 7) { children(first: 3) { id label rank shade } } }"""
    ref, comp = await both(q)
    assert ref == comp
    assert "'NoneType' object has no attribute 'label'" in ref
    assert '"label": "label-1"' in ref and '"gone": null' in ref
    assert "no shade for label-3" in ref  # the conversion failed: on both paths alike
    plan = PLANS.get((id(COMPILED._schema), q, None))
    assert isinstance(plan, OperationPlan)
    item = plan.root.fields[0].completer.item
    assert item is not None and item.plan is not None
    rank = next(f for f in item.plan.fields if f.name == "rank")
    assert rank.kind == ATTR and rank.attr == "meta.rank"
    assert item.plan.fast is not None  # a pure selection: generated code reads the path


async def test_converted_reads_of_a_pure_selection_agree_per_value():
    # Items 8, 9 and 10 all have a record; their labels convert to RED, RED, GREEN.
    # The selection is pure, so generated code converts them, remembering the
    # serialised shade per stored label: each item must still get its own.
    q = "{ items(first: 3, offset: 8) { id shade } again: items(first: 3, offset: 8) { shade } }"
    ref, comp = await both(q)
    assert ref == comp
    assert json.loads(ref)["data"]["items"] == [
        {"id": 8, "shade": "RED"},
        {"id": 9, "shade": "RED"},
        {"id": 10, "shade": "GREEN"},
    ]
    plan = PLANS.get((id(COMPILED._schema), q, None))
    assert isinstance(plan, OperationPlan)
    item = plan.root.fields[0].completer.item
    assert item is not None and item.plan is not None and item.plan.fast is not None
    assert "mv" in (item.plan.fast.__doc__ or "")  # the memoised conversion


async def test_a_list_of_pure_objects_completes_in_one_loop_and_gives_up_on_a_null():
    q = "{ items(first: 2) { id name } }"
    ref, comp = await both(q)
    assert ref == comp
    plan = PLANS.get((id(COMPILED._schema), q, None))
    assert isinstance(plan, OperationPlan)
    listed = plan.root.fields[0].completer
    assert listed.fast is not None and "for src in value" in (listed.fast.__doc__ or "")
    item = make_item(1)
    assert listed.fast([item, item]) == [{"id": 1, "name": "item-1"}] * 2
    for bad in ([item, None], item, "ab"):  # a null item of [Item!], not a list
        with pytest.raises(Slow):
            listed.fast(bad)
