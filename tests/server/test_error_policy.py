"""Unexpected errors are masked for clients and logged in full; expected ones keep their text."""

from __future__ import annotations

import logging

from sqlalchemy import text

from app.logging import RequestInfo, current_request
from resolvers.errors import ERROR_CODES
from tests.server.toy_schema import toy_schema

SCHEMA = toy_schema()
DROP = {"sqlite": "DROP TABLE assets", "postgres": "DROP TABLE assets CASCADE"}


async def execute_as(request_id: str, query: str, variables=None):
    token = current_request.set(RequestInfo(request_id=request_id))
    try:
        return await SCHEMA.execute(query, variable_values=variables)
    finally:
        current_request.reset(token)


async def test_resolver_exception_is_masked_and_logged_with_the_request_id(caplog):
    caplog.set_level(logging.ERROR, logger="cryptoql.errors")
    result = await execute_as("req-boom-1", "{ boom missing }")
    assert result.data == {"boom": None, "missing": None}
    by_path = {tuple(e.path): e.formatted for e in result.errors}

    masked = by_path[("boom",)]
    assert masked["message"] == "Internal server error"
    assert masked["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-boom-1"}
    assert "hunter2" not in str(result.errors)

    kept = by_path[("missing",)]
    assert kept["message"] == "no such thing"
    assert kept["extensions"]["code"] == "NOT_FOUND"

    logged = [r for r in caplog.records if r.name == "cryptoql.errors"]
    assert len(logged) == 1
    assert logged[0].request_id == "req-boom-1"
    assert "hunter2" in logged[0].getMessage()
    assert logged[0].exc_info and logged[0].exc_info[0] is RuntimeError


async def test_a_graphql_error_without_a_code_counts_as_unexpected():
    result = await execute_as("req-plain", "{ plain }")
    assert result.errors[0].message == "Internal server error"


async def test_variable_coercion_errors_are_bad_user_input_and_keep_their_message():
    query = "query ($at: DateTime!) { when(at: $at) }"
    result = await execute_as("req-var", query, {"at": "not a date"})
    assert result.data is None
    error = result.errors[0]
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert "$at" in error.message


async def test_every_code_used_is_registered():
    for query in ("{ boom missing plain }", "{ nope }", "{ node ", "{ node { name @x } }"):
        result = await execute_as("req-x", query)
        assert result.errors
        for error in result.errors:
            assert error.extensions["code"] in ERROR_CODES


async def test_a_database_failure_reaches_the_client_masked(api, db, caplog):
    """A real driver error (the table is gone) on both backends."""
    async with db.sessions() as session:
        await session.execute(text(DROP[db.backend]))
        await session.commit()
    caplog.set_level(logging.ERROR, logger="cryptoql.errors")
    resp = await api.post("/graphql", json={"query": '{ asset(id: "bitcoin") { symbol } }'})
    assert resp.status_code == 200
    body = resp.json()
    error = body["errors"][0]
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"] == resp.headers["x-request-id"]
    assert "assets" not in resp.text.lower().replace('"asset"', "")
    logged = [r for r in caplog.records if r.name == "cryptoql.errors"]
    assert logged and logged[0].request_id == resp.headers["x-request-id"]
    assert "assets" in logged[0].getMessage()


async def test_a_field_error_keeps_200_under_graphql_response_json(api, db):
    async with db.sessions() as session:
        await session.execute(text(DROP[db.backend]))
        await session.commit()
    resp = await api.post(
        "/graphql",
        json={"query": '{ asset(id: "bitcoin") { symbol } }'},
        headers={"accept": "application/graphql-response+json"},
    )
    # A field error (it has a path): still a GraphQL response with data, so 200.
    assert resp.status_code == 200
    assert resp.json()["data"] == {"asset": None}
