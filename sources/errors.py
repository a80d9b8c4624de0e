"""The typed error tree every source adapter raises.

Callers (the ingest runner, health reporting) branch on the *type*, never on a
message, so each failure mode an upstream can show has exactly one class::

    SourceError                      any failure talking to an upstream (has .source, .code)
    ├── SourceUnavailable            the upstream cannot serve us now (5xx, refused, reset)
    │   ├── SourceTimeout            connect/read timeout or the overall deadline passed
    │   └── CircuitOpen              our breaker is open: no call was made at all
    ├── SourceRateLimited            429/418 or a provider rate-limit code; has .retry_after
    ├── SourceAuthError              401/403, missing/invalid/wrong-host key (CG 10002/10010/10011)
    │   └── SourcePlanRestricted     the key is valid but the plan lacks the endpoint (CG 10005)
    ├── SourceRequestError           4xx our request caused (bad symbol or parameter: Binance -1121)
    │   └── SourceNotFound           404 / "Data not found": nothing exists for the request
    └── SourceDecodeError            the body is not what the documented format promises
                                     (HTML error page, truncated or malformed JSON, wrong shape)

Only :class:`SourceUnavailable` (including timeouts) and :class:`SourceRateLimited`
are *transient*: the resilient client retries those for idempotent GETs and
counts them against the circuit breaker. Everything else is a fact about our
request or the provider's contract, and retrying would only burn the rate
budget. :class:`SourceDecodeError` does count as a breaker failure (an upstream
serving HTML error pages with status 200 is down in all but name) but is not
retried.

Each class carries a stable ``code`` so a GraphQL layer can surface it as
``extensions.code`` without importing this package's internals.
"""

from __future__ import annotations


class SourceError(Exception):
    """Base of every upstream failure; ``source`` names the provider (e.g. ``coingecko``)."""

    code = "UPSTREAM_ERROR"
    #: Whether the resilient client may retry an idempotent request that failed this way.
    transient = False

    def __init__(self, source: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message
        self.status = status


class SourceUnavailable(SourceError):
    """The upstream could not serve the request (5xx, connection refused/reset)."""

    code = "UPSTREAM_UNAVAILABLE"
    transient = True


class SourceTimeout(SourceUnavailable):
    """A connect/read timeout, or the overall per-call deadline was exceeded."""

    code = "UPSTREAM_TIMEOUT"


class CircuitOpen(SourceUnavailable):
    """The circuit breaker is open; the call was refused locally without touching the network.

    Not transient: retrying immediately would be refused again. ``retry_after``
    says when the breaker will let a half-open probe through.
    """

    code = "UPSTREAM_CIRCUIT_OPEN"
    transient = False

    def __init__(self, source: str, retry_after: float) -> None:
        super().__init__(source, f"circuit open; next probe in {retry_after:.1f}s")
        self.retry_after = retry_after


class SourceRateLimited(SourceError):
    """The provider throttled us (HTTP 429/418 or a rate-limit error code).

    ``retry_after`` is the provider's ``Retry-After`` in seconds when it sent
    one, else ``None``.
    """

    code = "UPSTREAM_RATE_LIMITED"
    transient = True

    def __init__(
        self,
        source: str,
        message: str = "rate limited",
        *,
        retry_after: float | None = None,
        status: int | None = 429,
    ) -> None:
        super().__init__(source, message, status=status)
        self.retry_after = retry_after


class SourceAuthError(SourceError):
    """Credentials are missing, invalid or used on the wrong host."""

    code = "UPSTREAM_AUTH"


class SourcePlanRestricted(SourceAuthError):
    """The key is valid but its plan does not include this endpoint or range."""

    code = "UPSTREAM_PLAN_RESTRICTED"


class SourceRequestError(SourceError):
    """A 4xx the request itself caused (unknown symbol, invalid parameter)."""

    code = "UPSTREAM_BAD_REQUEST"


class SourceNotFound(SourceRequestError):
    """Nothing exists for the request (404, Token Metrics ``Data not found``)."""

    code = "UPSTREAM_NOT_FOUND"


class SourceDecodeError(SourceError):
    """The response body does not match the documented format."""

    code = "UPSTREAM_DECODE"


__all__ = [
    "CircuitOpen",
    "SourceAuthError",
    "SourceDecodeError",
    "SourceError",
    "SourceNotFound",
    "SourcePlanRestricted",
    "SourceRateLimited",
    "SourceRequestError",
    "SourceTimeout",
    "SourceUnavailable",
]
