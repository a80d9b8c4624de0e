"""Cost over HTTP on the real app (both database backends): figures, headers, 429, dry runs."""

from __future__ import annotations

import math
import time
import uuid

import pytest
from redis.asyncio import Redis
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

from schema.ratelimit import _flag, _request_flags, set_raw_headers
from tests.conftest import REDIS_TEST_URL
from tests.cost.helpers import DASHBOARD, cost_app, cost_of, dump, post, seed_assets
from tests.cost.toy import CALLS


async def test_every_response_reports_cost_and_rate_limit_headers(db, monkeypatch):
    await seed_assets(db.sessions, 3)
    async with cost_app(db.url, monkeypatch) as client:
        resp = await post(client, DASHBOARD, {"n": 10})
        assert resp.status_code == 200, dump(resp)
        body = resp.json()
        assert "errors" not in body, dump(resp)
        assert len(body["data"]["assets"]["edges"]) == 3
        cost = cost_of(resp)
        requested, actual = cost["requestedQueryCost"], cost["actualQueryCost"]
        assert 0 < actual < requested
        status = cost["throttleStatus"]
        assert status["maximumAvailable"] == 1000
        assert status["restoreRate"] == 0.001
        assert status["currentlyAvailable"] == pytest.approx(1000 - actual, abs=0.5)
        assert resp.headers["X-RateLimit-Limit"] == "1000"
        assert resp.headers["X-RateLimit-Remaining"] == str(math.floor(1000 - actual))
        assert resp.headers["X-RateLimit-Cost"] == str(actual)
        reset = int(resp.headers["X-RateLimit-Reset"])
        assert reset >= time.time() + actual / 0.001 - 5  # when the bucket is full again

        # the next response sees what the first one spent
        second = await post(client, "{ assets(first: 1) { nodes { symbol } } }")
        spent = cost_of(second)["actualQueryCost"]
        assert cost_of(second)["throttleStatus"]["currentlyAvailable"] == pytest.approx(
            1000 - actual - spent, abs=0.5
        )

        # even a document that does not validate reports the budget
        invalid = await post(client, "{ nope }")
        assert cost_of(invalid)["requestedQueryCost"] is None
        assert "throttleStatus" in cost_of(invalid)
        assert "X-RateLimit-Remaining" in invalid.headers


def _counts(resp) -> dict[bytes, int]:
    names = [name.lower() for name, _ in resp.headers.raw]
    return {name: names.count(name) for name in names}


RATE_LIMIT_NAMES = [
    b"x-ratelimit-limit",
    b"x-ratelimit-remaining",
    b"x-ratelimit-reset",
    b"x-ratelimit-cost",
]


async def test_rate_limit_headers_are_sent_once_with_the_settled_figures(db, monkeypatch):
    # The extension publishes the headers twice per operation (after reserving the
    # estimate, again after refunding the difference): the second set replaces the first.
    await seed_assets(db.sessions, 2)
    async with cost_app(db.url, monkeypatch) as client:
        resp = await post(client, DASHBOARD, {"n": 10})
    assert resp.status_code == 200, dump(resp)
    counts = _counts(resp)
    assert [counts.get(name) for name in RATE_LIMIT_NAMES] == [1, 1, 1, 1], resp.headers.raw
    actual = cost_of(resp)["actualQueryCost"]
    assert resp.headers["X-RateLimit-Cost"] == str(actual)  # not the reserved estimate
    assert resp.headers["X-RateLimit-Remaining"] == str(math.floor(1000 - actual))
    sent = [name for name, _ in resp.headers.raw if name.startswith(b"x-ratelimit-")]
    assert sent == RATE_LIMIT_NAMES  # lower-cased, in the order the extension sets them


async def test_a_refusal_sends_each_header_once(db, monkeypatch):
    await seed_assets(db.sessions, 2)
    tiers = {"anonymous": {"capacity": 300, "restore_rate": 0.5}}
    async with cost_app(db.url, monkeypatch, cost_tiers=tiers) as client:
        query = "query($n: Int!) { assets(first: $n) { nodes { symbol price { value } } } }"
        assert (await post(client, query, {"n": 100})).status_code == 200  # ~295 left
        refused = await post(client, query, {"n": 149})  # 299 points do not fit
    assert refused.status_code == 429, dump(refused)
    counts = _counts(refused)
    assert [counts.get(name) for name in [*RATE_LIMIT_NAMES, b"retry-after"]] == [1] * 5
    assert refused.headers["X-RateLimit-Cost"] == "0"


@pytest.mark.parametrize(
    ("before", "values"),
    [
        ([], {"X-RateLimit-Limit": "1000", "X-RateLimit-Cost": "5"}),
        ([(b"vary", b"accept")], {"X-RateLimit-Limit": "1000", "Retry-After": "3"}),
        # already there: replaced where it first appears, its later duplicates dropped
        (
            [(b"x-a", b"1"), (b"vary", b"accept"), (b"x-a", b"2"), (b"x-b", b"3")],
            {"X-B": "new-b", "X-C": "c", "x-A": "new-a"},
        ),
        # two spellings of one name in one call: the last value, at the first place
        ([(b"x-z", b"0")], {"X-Y": "1", "x-y": "2", "X-Z": "3", "x-z": "4"}),
        ([(b"x-a", b"1")], {}),
        ([(b"x-a", b"1")], {"Caf\u00e9": "cr\u00e8me"}),  # latin-1, as Starlette encodes
    ],
)
def test_set_raw_headers_is_starlettes_setitem_in_one_pass(before, values):
    expected = MutableHeaders(raw=list(before))
    for name, value in values.items():
        expected[name] = value
    response = Response()
    response.raw_headers[:] = before
    raw = response.headers.raw
    set_raw_headers(raw, values)
    assert raw == expected.raw
    # in place: the sub-response's own list is what strawberry copies into the answer
    assert response.headers.raw is raw and response.raw_headers == expected.raw


@pytest.mark.parametrize(
    "sent",
    [
        [],
        [(b"host", b"x"), (b"accept", b"application/json")],
        [(b"x-cost-dry-run", b"1")],
        [(b"x-cost-include-fields", b" Yes "), (b"host", b"x")],
        [(b"x-cost-dry-run", b"TRUE"), (b"x-cost-include-fields", b"on")],
        [(b"x-cost-dry-run", b"0"), (b"x-cost-dry-run", b"1")],  # the first one counts
        [(b"x-cost-dry-run", b"true"), (b"x-cost-dry-run", b"no")],
        [(b"x-cost-include-fields", b"nope"), (b"x-cost-dry-run", b"\xe9")],  # latin-1
    ],
)
def test_request_flags_read_the_headers_as_starlette_does(sent):
    request = Request({"type": "http", "headers": sent})
    expected = (
        _flag(request.headers.get("X-Cost-Dry-Run")),
        _flag(request.headers.get("X-Cost-Include-Fields")),
    )
    assert _request_flags(request) == expected
    assert _request_flags(None) == (False, False)  # no request (a test's context)


async def test_over_budget_is_429_with_retry_after_and_refund_math(db, monkeypatch):
    await seed_assets(db.sessions, 2)
    rate = 0.5
    tiers = {"anonymous": {"capacity": 300, "restore_rate": rate}}
    async with cost_app(db.url, monkeypatch, cost_tiers=tiers) as client:
        query = "query($n: Int!) { assets(first: $n) { nodes { symbol price { value } } } }"
        # requested 1 + 100 × (1 + 1) = 201 is reserved; two assets come back, so the
        # actual cost is 1 + 2 × 2 = 5 and 196 points are refunded: 295 remain
        first = await post(client, query, {"n": 100})
        cost = cost_of(first)
        assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (201, 5), dump(first)
        assert cost["throttleStatus"]["currentlyAvailable"] == pytest.approx(295, abs=1)
        assert first.headers["X-RateLimit-Cost"] == "5"
        # 1 + 149 × 2 = 299 points do not fit in ~295: refused before any resolver
        CALLS.clear()
        refused = await post(client, query, {"n": 149})
        assert refused.status_code == 429, dump(refused)
        assert CALLS == []
        body = refused.json()
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"]["code"] == "THROTTLED"
        have = error["extensions"]["cost"]["currentlyAvailable"]
        assert have == pytest.approx(295, abs=1)
        wait = math.ceil((299 - have) / rate)
        assert refused.headers["Retry-After"] == str(wait)
        assert error["extensions"]["cost"]["retryAfterSeconds"] == wait
        assert error["extensions"]["cost"]["requestedQueryCost"] == 299
        assert cost_of(refused)["actualQueryCost"] is None
        # the same answer for a client that accepts application/graphql-response+json
        strict = await post(
            client,
            query,
            {"n": 149},
            headers={"Accept": "application/graphql-response+json"},
        )
        assert strict.status_code == 429
        assert "data" not in strict.json()
        assert strict.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
        # nothing was taken by the refusal: a request that fits still runs
        ok = await post(client, query, {"n": 2})
        assert ok.status_code == 200
        assert cost_of(ok)["throttleStatus"]["currentlyAvailable"] == pytest.approx(have - 5, abs=1)


async def test_too_expensive_reports_estimate_and_tier_maximum(db, monkeypatch):
    async with cost_app(db.url, monkeypatch, cost_max_operation=800) as client:
        resp = await post(client, DASHBOARD, {"n": 100})
        [error] = resp.json()["errors"]
        assert error["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
        estimated = error["extensions"]["cost"]["estimated"]
        assert estimated > 800
        assert error["extensions"]["cost"]["max"] == 800  # min(setting, anonymous capacity)
        assert CALLS == []
        # nothing was charged
        assert cost_of(resp)["throttleStatus"]["currentlyAvailable"] == pytest.approx(1000, abs=1)


async def test_breakdown_on_request(db, monkeypatch):
    async with cost_app(db.url, monkeypatch) as client:
        resp = await post(client, DASHBOARD, {"n": 5}, headers={"X-Cost-Include-Fields": "1"})
        fields = {tuple(f["path"]): f for f in cost_of(resp)["fields"]}
        candles = fields[("assets", "edges", "node", "candles")]
        assert (candles["definedCost"], candles["size"], candles["requestedTotalCost"]) == (
            2,
            24,
            48,
        )
        assert fields[("assets",)]["requestedTotalCost"] == cost_of(resp)["requestedQueryCost"]
        plain = await post(client, DASHBOARD, {"n": 5})
        assert "fields" not in cost_of(plain)


async def test_dry_run_header_executes_and_charges_nothing(db, monkeypatch):
    await seed_assets(db.sessions, 2)
    async with cost_app(db.url, monkeypatch) as client:
        resp = await post(client, DASHBOARD, {"n": 10}, headers={"X-Cost-Dry-Run": "1"})
        body = resp.json()
        assert body["data"] is None and "errors" not in body
        assert cost_of(resp)["dryRun"] is True
        assert cost_of(resp)["requestedQueryCost"] == 831
        assert cost_of(resp)["actualQueryCost"] is None
        assert CALLS == []
        assert resp.headers["X-RateLimit-Remaining"] == "1000"
        assert resp.headers["X-RateLimit-Cost"] == "0"


async def test_rate_limit_field_dry_run_resolves_only_itself(db, monkeypatch):
    await seed_assets(db.sessions, 2)
    async with cost_app(db.url, monkeypatch) as client:
        query = """query($n: Int!) {
          assets(first: $n) { nodes { symbol price { value } } }
          rateLimit(dryRun: true) { cost maxCost limit remaining restoreRate waitSeconds dryRun tier
                                    fields { path requestedTotalCost } }
        }"""
        resp = await post(client, query, {"n": 50})
        data = resp.json()["data"]
        assert set(data) == {"rateLimit"}, dump(resp)
        rl = data["rateLimit"]
        assert rl["cost"] == 1 + 50 * 2
        assert (rl["maxCost"], rl["limit"], rl["remaining"], rl["tier"]) == (
            1000,
            1000,
            1000,
            "anonymous",
        )
        assert rl["dryRun"] is True and rl["waitSeconds"] == 0
        assert {"path": ["assets"], "requestedTotalCost": 101} in rl["fields"]
        assert not [c for c in CALLS if c in ("assets", "nodes", "symbol", "price")]
        # without dryRun the field reports this operation's charge
        live = await post(
            client, "{ assets(first: 10) { nodes { symbol } } rateLimit { cost remaining } }"
        )
        assert live.json()["data"]["rateLimit"] == {"cost": 11, "remaining": 1000 - 11}
        assert "assets" in CALLS


async def test_cost_model_is_published(db, monkeypatch):
    async with cost_app(db.url, monkeypatch) as client:
        resp = await post(
            client,
            "{ costModel { maxOperationCost defaultListSize"
            " tiers { name capacity maxOperationCost }"
            " fields { coordinate weight assumedSize slicingArguments sizedFields timeSeries } } }",
        )
        model = resp.json()["data"]["costModel"]
        assert model["maxOperationCost"] == 25_000
        fields = {f["coordinate"]: f for f in model["fields"]}
        assert fields["Query.assets"]["slicingArguments"] == ["first"]
        assert fields["Query.assets"]["sizedFields"] == ["edges", "nodes"]
        assert fields["Asset.candles"]["timeSeries"] is True
        assert {t["name"]: t["maxOperationCost"] for t in model["tiers"]}["anonymous"] == 1000
        assert cost_of(resp)["requestedQueryCost"] == 0  # publishing the model is free


async def test_budgets_in_redis_when_configured(db, monkeypatch):
    prefix = f"test:{uuid.uuid4().hex}:"
    redis = Redis.from_url(REDIS_TEST_URL)
    try:
        async with cost_app(
            db.url, monkeypatch, redis_url=REDIS_TEST_URL, cost_redis_prefix=prefix
        ) as client:
            resp = await post(client, "{ assets(first: 20) { nodes { symbol } } }")
            assert resp.status_code == 200, dump(resp)
            # no rows: only the connection object (1 point) is kept, 20 are refunded
            assert cost_of(resp)["actualQueryCost"] == 1
            keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
            assert keys == [f"{prefix}ip:127.0.0.1".encode()]
            assert float(await redis.hget(keys[0], "a")) == pytest.approx(999, abs=0.1)
            await seed_assets(db.sessions, 1, sources=1)
            resp = await post(client, "{ assets(first: 20) { nodes { symbol } } }")
            assert cost_of(resp)["actualQueryCost"] == 2
            assert float(await redis.hget(keys[0], "a")) == pytest.approx(997, abs=0.1)
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
