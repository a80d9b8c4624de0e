"""ETag, Cache-Control and 304 on GET answers (with and without the response cache)."""

from __future__ import annotations

import pytest

from app.cache_http import etag_matches, make_etag
from tests.cache.helpers import PRICES, apq, cache_app, cost, dump, get, is_hit, post, seed

VARS = {"n": 2}


@pytest.mark.parametrize("cached", [True, False], ids=["cache", "no-cache"])
async def test_get_answers_carry_validators_and_304_when_unchanged(db, tmp_path, cached):
    await seed(db.sessions, 2)
    async with cache_app(db.url, tmp_path, response_cache_enabled=cached) as capp:
        c = capp.client
        first = await get(c, PRICES, VARS)
        assert first.status_code == 200, dump(first)
        etag = first.headers["etag"]
        assert etag.startswith('W/"')
        assert first.headers["cache-control"] == "public, max-age=1"  # anonymous caller
        vary = {v.strip().lower() for v in first.headers["vary"].split(",")}
        assert {"accept", "authorization", "x-api-key"} <= vary

        again = await get(c, PRICES, VARS, headers={"If-None-Match": etag})
        assert again.status_code == 304, dump(again)
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert "content-type" not in again.headers
        # a 304 stands for the answer and is charged like it
        assert again.headers["X-RateLimit-Cost"] == str(cost(first)["actualQueryCost"])
        assert is_hit(again) is cached

        other = await get(c, PRICES, VARS, headers={"If-None-Match": 'W/"something-else"'})
        assert other.status_code == 200 and other.headers["etag"] == etag

        key = await capp.issue()
        keyed = await get(c, PRICES, VARS, headers={"X-API-Key": key})
        assert keyed.headers["cache-control"] == "private, max-age=1"
        assert keyed.headers["etag"] == etag  # same data, same validator


async def test_what_may_not_be_stored_says_so(db, tmp_path):
    await seed(db.sessions, 1)
    async with cache_app(db.url, tmp_path, http_cache_max_age_seconds=0) as capp:
        c = capp.client
        budget = await get(c, "{ rateLimit { remaining } }")
        assert budget.status_code == 200 and "etag" not in budget.headers, dump(budget)
        assert budget.headers["cache-control"] == "no-store"
        failed = await get(c, "{ nope }")
        assert failed.headers["cache-control"] == "no-store" and "etag" not in failed.headers
        miss = await get(c, None, extensions=apq(PRICES))
        assert miss.headers["cache-control"] == "private, no-cache, must-revalidate"
        # max-age 0: every reuse revalidates
        ok = await get(c, PRICES, VARS)
        assert ok.headers["cache-control"] == "public, no-cache", dump(ok)
        # POST answers are not HTTP-cacheable
        posted = await post(c, PRICES, VARS)
        assert "etag" not in posted.headers and "cache-control" not in posted.headers


def test_etag_comparison_is_weak_and_handles_lists():
    tag = make_etag(b'{"a":1}')
    assert tag != make_etag(b'{"a":2}')
    assert etag_matches(tag, tag)
    assert etag_matches(tag.removeprefix("W/"), tag)
    assert etag_matches(f'"x", {tag}', tag)
    assert etag_matches("*", tag)
    assert not etag_matches('"x"', tag)
    assert not etag_matches(None, tag)
