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
    # --- server and safety baseline (app/view.py, app/limits.py; docs/errors.md) ---
    "ROUTE_NOT_FOUND": (404, "No such path on this server (or GraphiQL is disabled)."),
    "METHOD_NOT_ALLOWED": (405, "HTTP method not allowed here (e.g. a mutation over GET)."),
    "URI_TOO_LONG": (414, "The URL (query string) is over the size limit."),
    "DEPTH_LIMIT_EXCEEDED": (400, "An operation selects fields nested deeper than allowed."),
    "ALIAS_LIMIT_EXCEEDED": (400, "An operation uses more field aliases than allowed."),
    "DIRECTIVE_LIMIT_EXCEEDED": (400, "An operation uses more directives than allowed."),
    "TOKEN_LIMIT_EXCEEDED": (400, "The document has more lexical tokens than allowed."),
    "DOCUMENT_TOO_LARGE": (400, "The document text is longer than allowed."),
    "SELECTION_LIMIT_EXCEEDED": (400, "A selection set merges more fields than allowed."),
    "FRAGMENT_LIMIT_EXCEEDED": (400, "The document defines more fragments than allowed."),
    "VARIABLE_LIMIT_EXCEEDED": (400, "An operation declares more variables than allowed."),
    "INTROSPECTION_DISABLED": (400, "Schema introspection is not allowed for this caller."),
    "REQUEST_TIMEOUT": (503, "The operation did not finish within the request time limit."),
    # --- API keys and scopes (app/auth, schema/scopes.py; docs/keys.md) ---
    "UNAUTHENTICATED": (401, "No API key was sent and anonymous access is off."),
    "INVALID_API_KEY": (401, "The API key is malformed, unknown or its secret is wrong."),
    "API_KEY_REVOKED": (401, "The API key has been revoked."),
    "API_KEY_EXPIRED": (401, "The API key has expired."),
    "FORBIDDEN": (403, "The key lacks a field's scope, or the client address is not allowed."),
    "KEY_IN_URL": (400, "An API key was sent in the URL; refused (treat the key as leaked)."),
    # --- live subscriptions (resolvers/subscriptions, app/ws.py; docs/subscriptions.md) ---
    "REPLAY_WINDOW_EXCEEDED": (400, "`after:` is older than the replay window; refetch state."),
    "STREAM_INTERRUPTED": (503, "Events were lost and cannot be replayed; resubscribe."),
    "SUBSCRIPTION_LIMIT": (429, "Too many active subscriptions for this socket or API key."),
    # --- query cost and budgets (cost/, schema/ratelimit.py; docs/cost.md) ---
    "COST_ESTIMATED_TOO_EXPENSIVE": (
        400,
        "The operation's estimated cost is above the per-operation maximum for the caller.",
    ),
    "THROTTLED": (429, "The caller's cost budget does not hold this operation now; retry later."),
    # --- persisted queries (app/persisted.py; docs/caching.md) ---
    "PERSISTED_QUERY_NOT_FOUND": (200, "Unknown persisted-query hash; send the document too."),
    "PERSISTED_QUERY_NOT_SUPPORTED": (200, "Persisted queries are turned off on this server."),
    "PERSISTED_QUERY_HASH_MISMATCH": (400, "sha256Hash is not the SHA-256 of the document."),
    "PERSISTED_QUERY_REQUIRED": (400, "Trusted-documents mode: only registered documents run."),
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
