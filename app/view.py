"""The GraphQL view: strawberry's ASGI view, hardened and following GraphQL over HTTP.

What it adds to strawberry's ``GraphQL`` view:

* strict JSON in (``app.http_json``): bad bytes, invalid UTF-8, deep nesting and
  non-finite numbers are 400 over HTTP and close 4400 over WebSocket, never 500;
  responses are encoded with orjson;
* ``Accept: application/graphql-response+json`` gets that media type, and a
  request error (parse, validation, variable coercion: ``data`` is null and no
  error has a path) is answered with a 4xx and no ``data`` key; with
  ``application/json`` the status stays 200, as the spec asks;
* a POST that is not ``application/json`` (UTF-8) is 415; a mutation over GET
  is 405; every failure outside GraphQL is a JSON body with ``extensions.code``;
* GraphiQL is rendered only for a browser GET without ``query`` and without
  ``extensions`` (a hash-only persisted-query GET must execute, not get HTML);
* every request runs under a wall-clock limit (503 ``REQUEST_TIMEOUT``).
"""

from __future__ import annotations

import asyncio
import json
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from app.cache_http import begin_exchange, persisted_request, remember_result
from app.context import build_context
from app.cost_glue import refuse_costly_batch
from app.errors import STATUS_CODES, code_of, error_response, finalize_errors, status_of
from app.graphiql import graphiql_response
from app.http_json import GRAPHQL_RESPONSE_JSON, decode_json, encode_json, negotiate
from app.http_json import parse_content_type as parse_media_type
from app.logging import current_request
from app.settings import Settings
from resolvers.context import Context


class HttpError(HTTPException):
    """A transport-level failure with its ``extensions.code`` and extra headers."""

    def __init__(
        self, status: int, code: str, reason: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, reason)
        self.code = code
        self.headers = headers or {}


@dataclass(slots=True)
class _Exchange:
    """Per-request answer shape, decided from ``Accept`` and the result."""

    media_type: str
    status: int | None = None


_exchange: ContextVar[_Exchange | None] = ContextVar("cryptoql_exchange", default=None)


def graphiql_enabled(settings: Settings) -> bool:
    return settings.graphiql if settings.graphiql is not None else not settings.is_production


class CryptoQLView(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, *, settings: Settings, **kwargs: Any) -> None:
        kwargs.setdefault("graphql_ide", "graphiql" if graphiql_enabled(settings) else None)
        kwargs.setdefault("allowed_origins", settings.cors_origins)
        super().__init__(schema, **kwargs)
        self.settings = settings

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return build_context(request, response)

    async def get_root_value(self, request: Request | WebSocket) -> None:
        return None

    # --- JSON ---------------------------------------------------------------

    def decode_json(self, data: str | bytes) -> object:
        return decode_json(data, max_depth=self.settings.max_json_depth)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except json.JSONDecodeError as exc:
            raise HttpError(400, "BAD_REQUEST", f"Unable to parse the JSON: {exc.msg}") from exc

    def encode_json(self, data: object) -> bytes:
        return encode_json(data)

    # --- request --------------------------------------------------------------

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        params = request.query_params
        return (
            request.method == "GET"
            and params.get("query") is None
            and params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_response(request.url.path)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "GET":
            data: Any = self.parse_query_params(request.query_params)
        else:
            media, params = parse_media_type(request.content_type)
            if media != "application/json" or params.get("charset", "utf-8") not in (
                "utf-8",
                "utf8",
            ):
                raise HttpError(
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "Send the request as Content-Type: application/json (UTF-8)",
                )
            data = self.parse_json(await request.get_body())
        # Persisted queries (APQ, trusted documents) resolve here: app/persisted.py.
        if isinstance(data, list):
            self._validate_batch_request(data, protocol="http")
            return [await persisted_request(_request_data(item), batch=True) for item in data]
        return await persisted_request(_request_data(data))

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        limit = self.settings.request_timeout_seconds
        # Query cost: an array batch is priced as a whole before any of it runs.
        refused = await refuse_costly_batch(
            self.schema,
            kwargs.get("request_data"),
            kwargs.get("context"),
            max_tokens=self.settings.max_tokens,
        )
        if refused is not None:
            return refused
        try:
            async with asyncio.timeout(limit):
                return await super().execute_operation(*args, **kwargs)
        except TimeoutError as exc:
            raise HttpError(
                503,
                "REQUEST_TIMEOUT",
                f"The request did not finish within {limit:g} s",
                headers={"Retry-After": "1"},
            ) from exc

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError) and exc.reason.endswith("GET"):
                raise HttpError(
                    405, "METHOD_NOT_ALLOWED", exc.reason, headers={"Allow": "POST"}
                ) from exc
            raise

    # --- response -------------------------------------------------------------

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        info = current_request.get()
        errors: list[GraphQLError] = finalize_errors(
            result.errors or (), info.operation_name if info else None
        )
        result.errors = errors or None
        body = process_result(result)
        codes = [code_of(e) or "INTERNAL_SERVER_ERROR" for e in errors]
        if info is not None:
            info.error_codes.extend(codes)
        exchange = _exchange.get()
        request_error = result.data is None and errors and all(e.path is None for e in errors)
        if exchange and exchange.media_type == GRAPHQL_RESPONSE_JSON and request_error:
            body.pop("data", None)
            exchange.status = status_of(codes[0])
        await remember_result(result)  # response cache, APQ registration (app/cache_http.py)
        return body

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        exchange = _exchange.get()
        status = 200
        if exchange and exchange.status and not isinstance(response_data, list):
            status = exchange.status
        response = Response(
            self.encode_json(response_data),
            status_code=status,
            media_type=exchange.media_type if exchange else "application/json",
        )
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        exchange = _Exchange(media_type=negotiate(request.headers.get("accept")))
        token = _exchange.set(exchange)
        # Response cache, ETag/304 and persisted queries: app/cache_http.py.
        caching = begin_exchange(request, self.schema, exchange.media_type)
        try:
            response = await caching.cached() or await self.run(request)
            response = caching.finish(response)
        except HTTPException as exc:
            response = caching.finish(self._http_error(exc, exchange))
        finally:
            caching.close()
            _exchange.reset(token)
        await response(scope, receive, send)

    def _http_error(self, exc: HTTPException, exchange: _Exchange) -> Response:
        code = getattr(exc, "code", None) or STATUS_CODES.get(exc.status_code, "BAD_REQUEST")
        headers = dict(getattr(exc, "headers", {}))
        if exc.status_code == 405:
            headers.setdefault("Allow", "GET, POST")
        info = current_request.get()
        if info is not None:
            info.error_codes.append(code)
        return error_response(
            exc.status_code, code, exc.reason, media_type=exchange.media_type, headers=headers
        )


def _request_data(data: Any) -> GraphQLRequestData:
    """Check the shape of one GraphQL-over-HTTP request object."""
    if not isinstance(data, dict):
        raise HttpError(400, "BAD_REQUEST", "The request must be a JSON object")
    expected = {
        "query": str,
        "operationName": str,
        "variables": dict,
        "extensions": dict,
    }
    for key, kind in expected.items():
        value = data.get(key)
        if value == "" and kind is dict:  # `?variables=` in a GET means none
            data[key] = value = None
        if value is not None and not isinstance(value, kind):
            article = "an object" if kind is dict else "a string"
            raise HttpError(400, "BAD_REQUEST", f"`{key}` must be {article} or null")
    return GraphQLRequestData(
        query=data.get("query"),
        variables=data.get("variables"),
        operation_name=data.get("operationName"),
        extensions=data.get("extensions"),
        protocol="http",
    )


__all__ = ["CryptoQLView", "HttpError", "graphiql_enabled"]
