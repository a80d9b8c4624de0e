"""Known documents are parsed and validated once, per caller visibility."""

from __future__ import annotations

from typing import Any

import strawberry.schema.schema as strawberry_schema

import app.document_cache as document_cache
from tests.cache.helpers import PRICES, cache_app, dump, post, seed

VARS = {"n": 2}


class Counting:
    def __init__(self, fn: Any) -> None:
        self.fn, self.calls = fn, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.fn(*args, **kwargs)


async def test_parse_and_validation_run_once_per_document_and_rule_set(db, tmp_path, monkeypatch):
    await seed(db.sessions, 2)
    document_cache.clear()
    parse = Counting(document_cache.parse)
    validate = Counting(strawberry_schema.validate)
    monkeypatch.setattr(document_cache, "parse", parse)
    monkeypatch.setattr(strawberry_schema, "validate", validate)
    # the response cache off: every request really executes
    async with cache_app(db.url, tmp_path, response_cache_enabled=False) as capp:
        c = capp.client
        answers = [await post(c, PRICES, VARS) for _ in range(3)]
        assert all(a.status_code == 200 and "errors" not in a.json() for a in answers)
        assert len({a.text.split(',"extensions"')[0] for a in answers}) == 1
        assert (parse.calls, validate.calls) == (1, 1)

        # a caller with other scopes has another scope rule: validated once more
        key = await capp.issue(scopes=["prices", "signals"])
        for _ in range(2):
            resp = await post(c, PRICES, VARS, headers={"X-API-Key": key})
            assert "errors" not in resp.json(), dump(resp)
        assert (parse.calls, validate.calls) == (1, 2)

        # documents that fail are reported every time, never remembered as valid
        for _ in range(2):
            bad = await post(c, "{ assets { nope } }")
            assert bad.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert validate.calls == 4
        syntax = await post(c, "{ assets ")
        assert syntax.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
