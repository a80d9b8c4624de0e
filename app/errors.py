"""Every error a client sees carries ``extensions.code``; unexpected ones are masked.

Codes come from the registry in :mod:`resolvers.errors` (documented in
``docs/errors.md``). Expected errors keep their messages: GraphQL syntax and
validation errors, limit violations, variable coercion errors and every
:class:`resolvers.errors.CryptoQLError`. Anything else that escaped a resolver
(a driver error, a bug, a plain ``GraphQLError`` without a code) is replaced by
``"Internal server error"`` with ``extensions.requestId`` and logged in full
with the same request id, so the text of a database exception never reaches a
client while an operator can still find it.

:class:`ErrorPolicy` tags errors where their kind is known for certain (after
parsing, after validation, after execution, and per streamed event, so the
WebSocket transport is covered too). :func:`finalize_errors` is the HTTP
view's last pass for errors that bypassed the extension (an extension hook that
raised).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import StreamExecutionResult

from app.logging import current_request_id
from resolvers.errors import ERROR_CODES

log = logging.getLogger("cryptoql.errors")

MASKED_MESSAGE = "Internal server error"
# graphql-core's parser messages for its two size limits
_TOKEN_LIMIT_MARK = "Document contains more than"  # noqa: S105 - not a secret
_LENGTH_LIMIT_MARK = "Source contains more than"

#: HTTP status -> code for errors raised below GraphQL (transport, routing).
STATUS_CODES: dict[int, str] = {
    400: "BAD_REQUEST",
    404: "ROUTE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    500: "INTERNAL_SERVER_ERROR",
    503: "REQUEST_TIMEOUT",
}


def code_of(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else None


def status_of(code: str | None) -> int:
    """The HTTP status a request failing as a whole with ``code`` answers with."""
    return ERROR_CODES.get(code or "", (400, ""))[0]


def _tag(error: GraphQLError, code: str) -> None:
    if code_of(error) is None:
        if error.extensions is None:
            error.extensions = {}
        error.extensions["code"] = code


def _mask(error: GraphQLError, operation: str | None) -> GraphQLError:
    request_id = current_request_id()
    original = error.original_error or error
    log.error(
        "unexpected error in %s at %s: %s",
        operation or "anonymous operation",
        ".".join(str(p) for p in error.path or ()) or "(operation)",
        original,
        exc_info=(type(original), original, original.__traceback__),
        extra={"operation": operation, "path": error.path},
    )
    return GraphQLError(
        MASKED_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


def _expected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, GraphQLError)


def finalize_errors(errors: Sequence[GraphQLError], operation: str | None) -> list[GraphQLError]:
    """Give every error a code; mask the unexpected ones (idempotent)."""
    out: list[GraphQLError] = []
    for error in errors:
        if code_of(error) is not None:
            out.append(error)
        elif isinstance(error, GraphQLSyntaxError):
            _tag(error, _syntax_code(error))
            out.append(error)
        elif error.path is None and _expected(error):
            _tag(error, "GRAPHQL_VALIDATION_FAILED")
            out.append(error)
        else:
            out.append(_mask(error, operation))
    return out


def _syntax_code(error: GraphQLError) -> str:
    if _TOKEN_LIMIT_MARK in error.message:
        return "TOKEN_LIMIT_EXCEEDED"
    if _LENGTH_LIMIT_MARK in error.message:
        return "DOCUMENT_TOO_LARGE"
    return "GRAPHQL_PARSE_FAILED"


class ErrorPolicy(SchemaExtension):
    """Tags parse/validation/coercion errors and masks unexpected resolver errors."""

    def __init__(self) -> None:
        self._streamed = False

    def _operation_name(self) -> str | None:
        try:
            return self.execution_context.operation_name
        except Exception:
            return None

    def on_parse(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            _tag(error, _syntax_code(error))

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            _tag(error, "GRAPHQL_VALIDATION_FAILED")

    def _process(self, result: Any) -> None:
        errors: list[GraphQLError] | None = getattr(result, "errors", None)
        if not errors:
            return
        for error in errors:
            # A path-less error during execution is a variable coercion failure.
            if error.path is None and code_of(error) is None:
                _tag(error, "BAD_USER_INPUT")
        result.errors = finalize_errors(errors, self._operation_name())

    def on_operation(self) -> Iterator[None]:
        self._streamed = False
        yield
        if not self._streamed:
            self._process(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        self._streamed = True
        self._process(result)
        for part in [*(getattr(result, "incremental", None) or ())]:
            self._process(part)
        yield


def error_body(code: str, message: str, **extensions: Any) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    media_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON error body for failures outside GraphQL execution (transport, routing)."""
    extensions: dict[str, Any] = {}
    if status >= 500:
        extensions["requestId"] = current_request_id()
    return Response(
        orjson.dumps(error_body(code, message, **extensions)),
        status_code=status,
        media_type=media_type,
        headers=headers,
    )
