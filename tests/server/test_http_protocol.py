"""GraphQL over HTTP: media types, status codes, methods, and JSON error bodies."""

from __future__ import annotations

import json
import re

import pytest
from starlette.datastructures import Headers

from app.main import create_app
from app.middleware import _header
from app.settings import Settings
from tests.conftest import make_settings, running_app

GQL_JSON = "application/graphql-response+json"


async def test_post_application_json_answers_200_json(http):
    resp = await http.post("/graphql", json={"query": "{ __typename }"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["data"] == {"__typename": "Query"}


async def test_get_query_executes(http):
    resp = await http.get("/graphql", params={"query": "query Q { __typename }"})
    assert resp.status_code == 200
    assert resp.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (GQL_JSON, GQL_JSON),
        (f"{GQL_JSON}, application/json;q=0.9", GQL_JSON),
        (f"application/json, {GQL_JSON};q=0.5", "application/json"),
        ("*/*", "application/json"),
        ("text/plain", "application/json"),
    ],
)
async def test_accept_negotiates_the_media_type(http, accept, expected):
    resp = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"accept": accept})
    assert resp.status_code == 200
    assert resp.headers["content-type"].split(";")[0] == expected


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{ __typename "}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {"query": "query ($id: String!) { asset(id: $id) { symbol } }", "variables": {}},
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_request_errors_by_media_type(http, body, code):
    # application/json: 200 with data null (the spec keeps 200 for that media type)
    resp = await http.post("/graphql", json=body, headers={"accept": "application/json"})
    assert resp.status_code == 200
    payload = resp.json()
    assert payload["data"] is None
    assert payload["errors"][0]["extensions"]["code"] == code

    # graphql-response+json: 4xx and no data entry at all
    resp = await http.post("/graphql", json=body, headers={"accept": GQL_JSON})
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith(GQL_JSON)
    payload = resp.json()
    assert "data" not in payload
    assert payload["errors"][0]["extensions"]["code"] == code


async def test_field_errors_keep_data_and_200_with_graphql_response_json(http):
    # An unknown id is a field value (null), not a request error.
    resp = await http.post(
        "/graphql",
        json={"query": '{ asset(id: "no-such-asset") { symbol } }'},
        headers={"accept": GQL_JSON},
    )
    assert resp.status_code == 200
    assert resp.json()["data"] == {"asset": None}


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", None],
)
async def test_unsupported_content_type_is_415_json(http, content_type):
    headers = {"content-type": content_type} if content_type else {}
    resp = await http.post("/graphql", content=b'{"query":"{ __typename }"}', headers=headers)
    assert resp.status_code == 415
    assert resp.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_charset_utf8_is_accepted(http):
    resp = await http.post(
        "/graphql",
        content=json.dumps({"query": "{ __typename }"}).encode(),
        headers={"content-type": "application/json; charset=UTF-8"},
    )
    assert resp.status_code == 200


async def test_mutation_over_get_is_405(http):
    resp = await http.get("/graphql", params={"query": "mutation { __typename }"})
    assert resp.status_code == 405
    assert resp.headers["allow"] == "POST"
    assert resp.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize(
    "body",
    [
        {"notquery": "{ __typename }"},
        {"query": {"obj": "ect"}},
        {"query": 0},
        {"query": "{ __typename }", "variables": "nope"},
        {"query": "{ __typename }", "operationName": {"x": 1}},
        {"query": "{ __typename }", "extensions": ["a"]},
        "a string",
        17,
        None,
    ],
)
async def test_malformed_parameters_are_400_json(http, body):
    resp = await http.post(
        "/graphql", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    error = resp.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["message"]


async def test_array_batching_is_off_by_default(http):
    resp = await http.post("/graphql", json=[{"query": "{ __typename }"}])
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["message"] == "Batching is not enabled"


async def test_array_batching_is_bounded_when_on(server_db):
    app = create_app(make_settings(server_db, max_batch_operations=2))
    async with running_app(app) as client:
        two = await client.post("/graphql", json=[{"query": "{ __typename }"}] * 2)
        assert two.status_code == 200
        assert [r["data"] for r in two.json()] == [{"__typename": "Query"}] * 2
        three = await client.post("/graphql", json=[{"query": "{ __typename }"}] * 3)
        assert three.status_code == 400
        assert three.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_unknown_path_and_method_are_json(http):
    resp = await http.get("/nope")
    assert resp.status_code == 404
    assert resp.json()["errors"][0]["extensions"]["code"] == "ROUTE_NOT_FOUND"
    resp = await http.put("/graphql", content=b"{}")
    assert resp.status_code == 405
    assert resp.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_hash_only_persisted_query_get_is_not_answered_with_graphiql(http):
    ext = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}})
    resp = await http.get("/graphql", params={"extensions": ext}, headers={"accept": "*/*"})
    assert not resp.headers["content-type"].startswith("text/html")
    resp = await http.get(
        "/graphql", params={"extensions": ext}, headers={"accept": "text/html,*/*"}
    )
    assert not resp.headers["content-type"].startswith("text/html")
    assert resp.json()["errors"][0]["extensions"]["code"]


async def test_request_id_is_taken_when_sane_and_generated_otherwise(http):
    resp = await http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"x-request-id": "abc-123.Z"}
    )
    assert resp.headers["x-request-id"] == "abc-123.Z"
    resp = await http.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"x-request-id": "bad id;" + "x" * 200},
    )
    generated = resp.headers["x-request-id"]
    # a fresh id (uuid4 hex; "bad" could be part of one by chance, so that is not the test)
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    again = await http.post("/graphql", json={"query": "{ __typename }"})
    assert again.headers["x-request-id"] != generated


@pytest.mark.parametrize(
    "sent",
    [
        [],
        [(b"host", b"x")],
        [(b"x-request-id", b"abc"), (b"content-length", b"12")],
        [(b"x-request-id", b"first"), (b"x-request-id", b"second")],  # the first one counts
        [(b"content-length", b"\xe9")],  # latin-1, as Starlette decodes
        ((b"x-request-id", b"in-a-tuple"),),  # ASGI allows any iterable
    ],
)
@pytest.mark.parametrize("name", ["x-request-id", "content-length"])
def test_request_headers_are_read_as_starlette_reads_them(sent, name):
    expected = Headers(scope={"headers": sent}).get(name)
    assert _header({"headers": sent}, name.encode()) == expected


async def test_responses_are_compact_orjson(http):
    resp = await http.post("/graphql", json={"query": "{ __typename }"})
    assert b": " not in resp.content and b", " not in resp.content


async def test_field_suggestions_only_in_development(server_db, http):
    query = {"query": '{ asse(id: "x") { symbol } }'}
    hidden = (await http.post("/graphql", json=query)).json()["errors"][0]["message"]
    assert "Did you mean" not in hidden
    dev = Settings(database_url=server_db, env="development", auto_migrate=False, log_json=False)
    async with running_app(create_app(dev)) as client:
        shown = (await client.post("/graphql", json=query)).json()["errors"][0]["message"]
    assert "Did you mean 'asset'" in shown
