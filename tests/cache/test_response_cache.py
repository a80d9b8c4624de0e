"""Exact response caching over the real app: hits, invalidation, visibility, cost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event
from strawberry.extensions import SchemaExtension

import app.main as app_main
from ingest.publish import Publisher
from tests.cache.helpers import (
    PINNED,
    PRICES,
    an_hour_ago,
    apq,
    cache_app,
    cost,
    data_part,
    dump,
    is_hit,
    post,
    seed,
    write_quote,
)

VARS = {"n": 3}


def engine_statements(state: dict[str, Any]) -> list[str]:
    """Every statement the app's engine runs from now on (any task, any session)."""
    seen: list[str] = []
    event.listen(
        state["engine"].sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_rest: seen.append(statement),
    )
    return seen


async def test_a_hit_is_byte_identical_runs_no_sql_and_costs_the_same(db, tmp_path):
    await seed(db.sessions, 3)
    async with cache_app(db.url, tmp_path) as capp:
        first = await post(capp.client, PRICES, VARS)
        assert first.status_code == 200 and "errors" not in first.json(), dump(first)
        assert not is_hit(first)
        statements = engine_statements(capp.state)
        second = await post(capp.client, PRICES, VARS)
        assert is_hit(second), dump(second)
        assert statements == []
        assert data_part(second) == data_part(first)
        c1, c2 = cost(first), cost(second)
        for figure in ("requestedQueryCost", "actualQueryCost", "maximumQueryCost"):
            assert c1[figure] == c2[figure]
        # the hit was charged the actual cost, like the first answer
        available = [c["throttleStatus"]["currentlyAvailable"] for c in (c1, c2)]
        spent = available[0] - available[1]
        assert abs(spent - c1["actualQueryCost"]) < 0.01
        assert second.headers["X-RateLimit-Cost"] == first.headers["X-RateLimit-Cost"]
        # formatting and comments do not make another entry: the key is the printed AST
        reformatted = "# the same\n" + " ".join(PRICES.split())
        third = await post(capp.client, reformatted, VARS)
        assert is_hit(third) and data_part(third) == data_part(first)
        # other variables are another answer
        fourth = await post(capp.client, PRICES, {"n": 2})
        assert not is_hit(fourth) and len(fourth.json()["data"]["assets"]["nodes"]) == 2


async def test_a_data_version_bump_invalidates_only_documents_reading_that_domain(db, tmp_path):
    ids = await seed(db.sessions, 1)
    variables = {"at": an_hour_ago()}
    async with cache_app(db.url, tmp_path) as capp:
        c = capp.client
        await post(c, PINNED, variables)
        assert is_hit(await post(c, PINNED, variables))

        await capp.bump("candles", "onchain")  # PINNED reads assets and quotes only
        assert is_hit(await post(c, PINNED, variables))

        # a quote is stored (back-dated into the pinned instant's reach) and announced
        await write_quote(db.sessions, ids[0], "555")
        still = await post(c, PINNED, variables)
        assert is_hit(still)  # not announced yet: the cache cannot know (ingest always announces)
        await capp.bump("quotes")
        fresh = await post(c, PINNED, variables)
        assert not is_hit(fresh), dump(fresh)
        assert capp.cache.counts["stale"] == 1
        assert is_hit(await post(c, PINNED, variables))


async def test_a_live_answer_follows_new_data_at_once(db, tmp_path):
    ids = await seed(db.sessions, 2)
    async with cache_app(db.url, tmp_path) as capp:
        c = capp.client
        before = await post(c, PRICES, VARS)
        assert is_hit(await post(c, PRICES, VARS))
        await write_quote(db.sessions, ids[0], "4242")
        await write_quote(db.sessions, ids[0], "4242", source="src1")
        await Publisher(capp.services["broker"]).bump(["quotes"])
        after = await post(c, PRICES, VARS)
        assert not is_hit(after)
        price = after.json()["data"]["assets"]["nodes"][0]["price"]["value"]
        assert price == "4242", dump(after)
        assert before.json()["data"] != after.json()["data"]


class BumpDuringExecution(SchemaExtension):
    """Announces a quotes change while the operation executes (at most ``remaining`` times)."""

    remaining = 0

    async def on_execute(self) -> AsyncIterator[None]:
        if BumpDuringExecution.remaining > 0:
            BumpDuringExecution.remaining -= 1
            broker = self.execution_context.context.services["broker"]
            await Publisher(broker).bump(["quotes"])
        yield


async def test_an_answer_computed_while_its_data_changed_is_never_reused(db, tmp_path, monkeypatch):
    """Versions are taken before execution: a concurrent write leaves the entry stale."""
    await seed(db.sessions, 1)
    original = app_main.build_schema

    def with_bump(**kw: Any) -> Any:
        kw["extensions"] = [*kw.get("extensions", ()), BumpDuringExecution]
        return original(**kw)

    monkeypatch.setattr(app_main, "build_schema", with_bump)
    BumpDuringExecution.remaining = 1
    async with cache_app(db.url, tmp_path) as capp:
        c = capp.client
        assert not is_hit(await post(c, PRICES, VARS))
        assert not is_hit(await post(c, PRICES, VARS))  # stored, but already stale
        assert capp.cache.counts["stale"] == 1
        assert is_hit(await post(c, PRICES, VARS))


async def test_callers_with_different_visibility_never_share_an_answer(db, tmp_path):
    await seed(db.sessions, 2)
    async with cache_app(db.url, tmp_path) as capp:
        c = capp.client
        pro = await capp.issue(tier="pro")
        pro_again = await capp.issue(tier="pro")
        fewer_scopes = await capp.issue(tier="pro", scopes=["prices", "signals"])
        free = await capp.issue(tier="free")

        assert not is_hit(await post(c, PRICES, VARS))  # anonymous
        assert is_hit(await post(c, PRICES, VARS))
        first = await post(c, PRICES, VARS, headers={"X-API-Key": pro})
        assert not is_hit(first), "a key must not get the anonymous entry"
        assert is_hit(await post(c, PRICES, VARS, headers={"X-API-Key": pro}))
        shared = await post(c, PRICES, VARS, headers={"X-API-Key": pro_again})
        assert is_hit(shared), "same tier and scopes share"
        assert data_part(shared) == data_part(first)
        assert not is_hit(await post(c, PRICES, VARS, headers={"X-API-Key": fewer_scopes}))
        assert not is_hit(await post(c, PRICES, VARS, headers={"X-API-Key": free}))


async def test_what_is_never_cached(db, tmp_path):
    await seed(db.sessions, 1)
    async with cache_app(db.url, tmp_path) as capp:
        c = capp.client
        with_budget = "{ rateLimit { remaining } assets(first: 1) { nodes { symbol } } }"
        errors = '{ asset(id: "nope", symbol: "X") { symbol } }'  # both arguments: an error
        for query, headers in (
            (with_budget, None),
            (errors, None),
            (PRICES, {"X-Cost-Dry-Run": "1"}),
            (PRICES, {"X-Cost-Include-Fields": "1"}),
        ):
            await post(c, query, VARS, headers=headers)
            again = await post(c, query, VARS, headers=headers)
            assert not is_hit(again), (query, headers)
        assert capp.cache.counts["stores"] == 0


async def test_live_answers_expire_after_the_live_ttl_pinned_ones_do_not(db, tmp_path):
    await seed(db.sessions, 1)
    variables = {"at": an_hour_ago()}
    async with cache_app(db.url, tmp_path, response_cache_live_ttl_seconds=0.3) as capp:
        c = capp.client
        before = time.time()
        await post(c, PRICES, VARS)
        await post(c, PINNED, variables)
        after = time.time()
        lives = sorted(e.expires_at for e in capp.cache.store.entries())
        assert len(lives) == 2
        assert lives[0] <= after + 0.3  # read at the request time: the live TTL
        assert lives[1] >= before + 60  # pinned by asOf: response_cache_ttl_seconds
        await asyncio.sleep(max(0.0, lives[0] - time.time()) + 0.05)
        assert not is_hit(await post(c, PRICES, VARS))
        assert is_hit(await post(c, PINNED, variables))


async def test_a_caller_who_cannot_pay_is_throttled_exactly_as_without_the_cache(db, tmp_path):
    await seed(db.sessions, 2)
    async with cache_app(db.url, tmp_path) as probe:
        figures = cost(await post(probe.client, PRICES, VARS))
    requested, actual = figures["requestedQueryCost"], figures["actualQueryCost"]
    # room for one answer, not for the second one's requested cost
    tiers = {"anonymous": {"capacity": requested + actual - 1, "restore_rate": 0.0001}}
    outcomes = []
    for enabled in (True, False):
        async with cache_app(
            db.url, tmp_path, response_cache_enabled=enabled, cost_tiers=tiers
        ) as capp:
            first = await post(capp.client, PRICES, VARS)
            second = await post(capp.client, PRICES, VARS)
            assert first.status_code == 200, dump(first)
            outcomes.append(
                (
                    second.status_code,
                    second.json()["errors"][0]["extensions"]["code"],
                    cost(first)["actualQueryCost"],
                    "Retry-After" in second.headers,
                )
            )
    assert outcomes[0] == outcomes[1] == (429, "THROTTLED", actual, True)


async def test_concurrent_misses_for_one_key_run_the_operation_once(db, tmp_path):
    await seed(db.sessions, 3)
    async with cache_app(db.url, tmp_path) as capp:
        c = capp.client
        statements = engine_statements(capp.state)
        await post(c, PRICES, {"n": 3})
        one_run = len(statements)
        assert one_run > 0
        statements.clear()
        answers = await asyncio.gather(*(post(c, PRICES, {"n": 2}) for _ in range(5)))
        assert len(statements) == one_run, "the followers waited for the leader's answer"
        assert len({data_part(a) for a in answers}) == 1
        assert sum(is_hit(a) for a in answers) == 4
        assert capp.cache.counts["coalesced"] == 4
        assert capp.cache.flights == {}


async def test_a_hit_still_registers_the_persisted_document_it_answers(db, tmp_path):
    await seed(db.sessions, 1)
    async with cache_app(db.url, tmp_path) as capp:
        c = capp.client
        await post(c, PRICES, VARS)  # cached from its text
        with_hash = await post(c, PRICES, VARS, extensions=apq(PRICES))
        assert is_hit(with_hash)
        by_hash = await post(c, None, VARS, extensions=apq(PRICES))
        assert by_hash.status_code == 200 and is_hit(by_hash), dump(by_hash)
