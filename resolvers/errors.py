"""Expected errors, each with a stable ``extensions.code``.

Every error a client can see carries one of the codes in :data:`ERROR_CODES`
(documented in ``docs/errors.md``). Unexpected exceptions are masked as
``INTERNAL_SERVER_ERROR`` with the request id and logged in full.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

#: code -> (HTTP status when the whole request fails with it, meaning)
ERROR_CODES: dict[str, tuple[int, str]] = {
    "GRAPHQL_PARSE_FAILED": (400, "The document is not valid GraphQL syntax."),
    "GRAPHQL_VALIDATION_FAILED": (400, "The document does not validate against the schema."),
    "BAD_USER_INPUT": (400, "An argument value is invalid (out of range, malformed)."),
    "BAD_REQUEST": (400, "The HTTP request is malformed (body, JSON, parameters)."),
    "PAYLOAD_TOO_LARGE": (413, "The request body is over the size limit."),
    "UNSUPPORTED_MEDIA_TYPE": (415, "The request's Content-Type is not supported."),
    "NOT_FOUND": (200, "The requested object does not exist."),
    "AMBIGUOUS_SYMBOL": (200, "A symbol matches several assets; use a canonical id."),
    "INTERNAL_SERVER_ERROR": (500, "An unexpected error; the message is masked."),
}


class CryptoQLError(GraphQLError):
    """Base for expected errors: a message and an ``extensions.code``."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, extensions: dict[str, Any] | None = None) -> None:
        ext = {"code": self.code}
        if extensions:
            ext.update(extensions)
        super().__init__(message, extensions=ext)


class BadUserInput(CryptoQLError):
    code = "BAD_USER_INPUT"


class NotFound(CryptoQLError):
    code = "NOT_FOUND"


class AmbiguousSymbol(CryptoQLError):
    code = "AMBIGUOUS_SYMBOL"

    def __init__(self, symbol: str, candidates: list[str]) -> None:
        super().__init__(
            f"Symbol {symbol!r} matches {len(candidates)} assets; ask by canonical id",
            extensions={"symbol": symbol, "candidates": candidates},
        )
