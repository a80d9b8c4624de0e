"""Serializing one rendered event: the shared ``{"data": …, "errors": …}`` payload.

Executed once per event per topic and written to every subscriber, so errors
are made client-safe here, the way the HTTP path's error policy does it:
expected errors (a :class:`~resolvers.errors.CryptoQLError`, or any error that
carries a code and no original exception) keep their text; anything else is
logged and replaced by ``Internal server error`` with ``INTERNAL_SERVER_ERROR``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from graphql import ExecutionResult, GraphQLError

from resolvers.errors import CryptoQLError

log = logging.getLogger("cryptoql.subscriptions")

MASKED_MESSAGE = "Internal server error"


def mask(error: GraphQLError) -> dict[str, Any]:
    """A client-safe formatted error: expected errors keep their text, others are masked."""
    original = error.original_error
    code = (error.extensions or {}).get("code")
    if (
        isinstance(error, CryptoQLError)
        or (original is None and code)
        or (isinstance(original, CryptoQLError))
    ):
        return dict(error.formatted)
    if original is not None and not isinstance(original, GraphQLError):
        log.error("subscription event failed", exc_info=original)
    out: dict[str, Any] = {
        "message": MASKED_MESSAGE,
        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
    }
    if error.path:
        out["path"] = list(error.path)
    return out


def serialize(result: ExecutionResult) -> str:
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [mask(e) for e in result.errors]
    return orjson.dumps(body).decode()
