"""The resilient HTTP client every REST adapter (and JSON-RPC over HTTP) goes through.

One :class:`ResilientClient` per upstream bundles the whole failure policy, so
adapters only describe URLs and formats. A call goes through, in order:

1. **circuit breaker** (:class:`CircuitBreaker`): when open, the call fails at
   once with :class:`~sources.errors.CircuitOpen` and nothing is sent;
2. **request budget** (:class:`RateLimiter`): a token bucket sized from the
   provider's published limit (Binance counts *weight*, so calls can cost more
   than 1); a ``Retry-After`` from the provider blocks the bucket until it
   expires, so no caller sends anything before then. A wait longer than
   ``max_queue_wait`` (30 s) fails at once with
   :class:`~sources.errors.SourceRateLimited` instead of sleeping;
3. **the attempt**, under httpx connect/read/write/pool timeouts clipped to
   what is left of the call's overall deadline (which starts once the call
   has its budget, and covers every attempt and backoff after that);
4. **classification** of the response into a record body or a typed
   :class:`~sources.errors.SourceError` (an adapter hook sees provider error
   envelopes first);
5. **retry** of transient failures (5xx, transport errors, timeouts, 429) for
   idempotent requests only, at most ``max_retries`` times, with capped
   exponential backoff and full jitter (``uniform(0, min(cap, base·2ⁿ))``),
   never sooner than ``Retry-After``, never past the deadline, and only while
   the **retry budget** (:class:`RetryBudget`, ≈10 % of requests) has a token,
   so retries cannot multiply load during an outage.

Why these numbers (:class:`HttpPolicy` defaults): connect 1 s / read 3 s /
deadline 5 s and ≤2 retries from base 200 ms to cap 2 s follow the project's
reference (``graphql-security.md`` §5, AWS "full jitter"); the breaker opens
after 5 consecutive failures or ≥50 % failures over the last 20 calls and lets
one probe through after 30 s.

Time comes from an injectable :class:`Clock` so tests run the whole policy
(Retry-After waits, breaker cool-downs) without sleeping for real.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from sources.clock import Clock, ManualClock, SystemClock
from sources.errors import (
    CircuitOpen,
    SourceAuthError,
    SourceDecodeError,
    SourceError,
    SourceNotFound,
    SourceRateLimited,
    SourceRequestError,
    SourceTimeout,
    SourceUnavailable,
)
from sources.metrics import SourceMetrics
from sources.resilience import (
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    HttpPolicy,
    RateLimit,
    RateLimiter,
    RetryBudget,
    RetryPolicy,
)

log = logging.getLogger(__name__)

USER_AGENT = "cryptoql/0.1 (+https://github.com/cryptoql)"
#: Truncated excerpt of a bad body kept in error messages (never a whole page).
EXCERPT_CHARS = 200


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A point-in-time view of one upstream, for ``/readyz`` and logs."""

    source: str
    breaker_state: BreakerState
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    requests: int
    successes: int
    failures: int
    retries: int
    rate_limited: int
    circuit_rejections: int
    quarantined: int
    consecutive_failures: int

    @property
    def healthy(self) -> bool:
        return self.breaker_state == "closed" and self.last_success_at is not None


# --------------------------------------------------------------------------- client

ErrorHook = Callable[[httpx.Response, Any], SourceError | None]

_OUTCOMES: dict[type[SourceError], str] = {
    SourceTimeout: "timeout",
    SourceUnavailable: "unavailable",
    SourceRateLimited: "rate_limited",
    SourceAuthError: "auth",
    SourceNotFound: "not_found",
    SourceRequestError: "bad_request",
    SourceDecodeError: "decode",
    CircuitOpen: "circuit_open",
}


def outcome_label(exc: SourceError) -> str:
    for cls in type(exc).__mro__:
        if cls in _OUTCOMES:
            return _OUTCOMES[cls]
    return "error"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def excerpt(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = " ".join(text.split())
    return text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")


def decode_json(source: str, response: httpx.Response) -> Any:
    """The body as JSON with floats as ``Decimal``; typed errors for anything else."""
    body = response.content
    if not body.strip():
        raise SourceDecodeError(source, "empty body", status=response.status_code)
    ctype = response.headers.get("content-type", "").lower()
    if "html" in ctype or body.lstrip()[:1] == b"<":
        raise SourceDecodeError(
            source, f"HTML instead of JSON: {excerpt(body)}", status=response.status_code
        )
    try:
        return json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceDecodeError(
            source, f"malformed JSON ({exc}): {excerpt(body)}", status=response.status_code
        ) from exc


def _try_json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        return None


def classify_status(source: str, response: httpx.Response, now: datetime) -> SourceError | None:
    """The default mapping of an HTTP status to the error tree (``None`` for 2xx)."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    detail = excerpt(response.content) if response.content else response.reason_phrase
    if status in (429, 418):
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        return SourceRateLimited(source, f"HTTP {status}", retry_after=retry_after, status=status)
    if status in (401, 403):
        return SourceAuthError(source, f"HTTP {status}: {detail}", status=status)
    if status == 404:
        return SourceNotFound(source, f"HTTP 404: {detail}", status=status)
    if status == 408 or status >= 500:
        return SourceUnavailable(source, f"HTTP {status}: {detail}", status=status)
    return SourceRequestError(source, f"HTTP {status}: {detail}", status=status)


class ResilientClient:
    """An upstream's HTTP client with the whole failure policy (see the module doc).

    Pass ``transport`` (e.g. ``httpx.MockTransport`` or a fault injector) in
    tests; pass ``client`` to share a pooled ``httpx.AsyncClient`` owned by the
    app lifespan (this object then never closes it).
    """

    def __init__(
        self,
        source: str,
        base_url: str,
        policy: HttpPolicy,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        error_hook: ErrorHook | None = None,
        response_hook: Callable[[httpx.Response], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        metrics: SourceMetrics | None = None,
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.metrics = metrics
        self.error_hook = error_hook
        self.response_hook = response_hook
        self._headers = {"user-agent": USER_AGENT, "accept": "application/json", **(headers or {})}
        self._params = dict(params or {})
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            transport=transport, follow_redirects=False, timeout=self._timeout(policy.deadline)
        )
        self.breaker = CircuitBreaker(source, policy.breaker, self.clock, self._on_breaker)
        self.limiter = RateLimiter(policy.rate_limit, self.clock)
        self.retry_budget = RetryBudget(policy.retry)
        self._counts = dict.fromkeys(
            ("requests", "successes", "failures", "retries", "rate_limited", "circuit"), 0
        )
        self._quarantined = 0
        self._last_success: datetime | None = None
        self._last_error_at: datetime | None = None
        self._last_error: str | None = None
        if metrics is not None:
            metrics.set_breaker_state(source, "closed")

    # -- lifecycle

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> ResilientClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- health

    def health(self) -> SourceHealth:
        c = self._counts
        return SourceHealth(
            source=self.source,
            breaker_state=self.breaker.state,
            last_success_at=self._last_success,
            last_error_at=self._last_error_at,
            last_error=self._last_error,
            requests=c["requests"],
            successes=c["successes"],
            failures=c["failures"],
            retries=c["retries"],
            rate_limited=c["rate_limited"],
            circuit_rejections=c["circuit"],
            quarantined=self._quarantined,
            consecutive_failures=self.breaker.consecutive_failures,
        )

    def note_quarantined(self, kind: str, reasons: Mapping[str, int]) -> None:
        """Count records the adapter's validation rejected (health and metric)."""
        for reason, n in reasons.items():
            self._quarantined += n
            if self.metrics is not None and n:
                self.metrics.quarantined.labels(self.source, kind, reason).inc(n)

    def _on_breaker(self, state: BreakerState) -> None:
        if self.metrics is not None:
            self.metrics.set_breaker_state(self.source, state)

    # -- calls

    def _timeout(self, remaining: float) -> httpx.Timeout:
        p = self.policy
        return httpx.Timeout(
            connect=min(p.connect_timeout, remaining),
            read=min(p.read_timeout, remaining),
            write=min(p.write_timeout, remaining),
            pool=min(p.pool_timeout, remaining),
        )

    async def get_json(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        cost: float = 1.0,
        deadline: float | None = None,
    ) -> Any:
        """GET ``path`` and return its JSON body (floats as ``Decimal``)."""
        return await self.request_json("GET", path, params=params, cost=cost, deadline=deadline)

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        cost: float = 1.0,
        deadline: float | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one logical request under the policy; retries are internal.

        ``idempotent`` defaults to true for GET only; a JSON-RPC read over POST
        may pass ``True`` explicitly.
        """
        may_retry = method.upper() == "GET" if idempotent is None else idempotent
        self.retry_budget.deposit()
        await self._admit(cost, self.policy.max_queue_wait)
        # The deadline covers the network part (attempts, backoff), not the queue
        # wait for the request budget, which has its own cap.
        end = self.clock.monotonic() + (deadline if deadline is not None else self.policy.deadline)
        attempt = 0
        while True:
            try:
                return await self._send(method, path, params, json_body, end)
            except SourceError as exc:
                delay = self._retry_delay(exc, attempt, may_retry, end)
                if delay is None:
                    raise
            attempt += 1
            self._counts["retries"] += 1
            if self.metrics is not None:
                self.metrics.retries.labels(self.source).inc()
            await self.clock.sleep(delay)
            await self._admit(cost, max(0.0, end - self.clock.monotonic()))

    def _retry_delay(
        self, exc: SourceError, attempt: int, may_retry: bool, end: float
    ) -> float | None:
        """How long to wait before retrying ``exc``, or ``None`` to give up now."""
        if not (exc.transient and may_retry) or attempt >= self.policy.retry.max_retries:
            return None
        r = self.policy.retry
        delay = self.rng.uniform(0.0, min(r.max_delay, r.base_delay * 2**attempt))
        if isinstance(exc, SourceRateLimited) and exc.retry_after is not None:
            delay = max(delay, exc.retry_after)
        if self.clock.monotonic() + delay >= end:
            return None
        if not self.retry_budget.try_spend():
            if self.metrics is not None:
                self.metrics.retry_budget_exhausted.labels(self.source).inc()
            return None
        return delay

    async def _admit(self, cost: float, max_wait: float) -> None:
        """Pass the breaker and the request budget, or raise without sending anything."""
        try:
            self.breaker.before_call()
        except CircuitOpen as exc:
            self._counts["circuit"] += 1
            self._count("circuit_open")
            self._note_error(exc)
            raise
        try:
            await self.limiter.acquire(cost, max_wait, self.source)
        except SourceRateLimited:
            self.breaker.release_probe()
            raise

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        json_body: Any,
        end: float,
    ) -> Any:
        remaining = end - self.clock.monotonic()
        if remaining <= 0:
            self.breaker.release_probe()
            raise SourceTimeout(self.source, "deadline passed before the request was sent")
        url = self.base_url + path
        merged = {**self._params, **(params or {})}
        self._counts["requests"] += 1
        try:
            async with asyncio.timeout(remaining):
                response = await self._client.request(
                    method,
                    url,
                    params=merged or None,
                    json=json_body,
                    headers=self._headers,
                    timeout=self._timeout(remaining),
                )
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise self._failed(
                SourceTimeout(self.source, f"{type(exc).__name__} on {path}")
            ) from exc
        except httpx.TransportError as exc:
            raise self._failed(
                SourceUnavailable(self.source, f"{type(exc).__name__} on {path}: {exc}")
            ) from exc
        return self._handle(response)

    def _handle(self, response: httpx.Response) -> Any:
        if self.response_hook is not None:
            self.response_hook(response)
        body = _try_json(response) if response.is_error else None
        error = self.error_hook(response, body) if self.error_hook and response.is_error else None
        if error is None:
            error = classify_status(self.source, response, self.clock.now())
        if error is None:
            try:
                body = decode_json(self.source, response)
            except SourceDecodeError as exc:
                raise self._failed(exc) from None
            error = self.error_hook(response, body) if self.error_hook else None
        if error is not None:
            raise self._failed(error)
        self._succeeded()
        return body

    # -- bookkeeping

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.requests.labels(self.source, outcome).inc()

    def _note_error(self, exc: SourceError) -> None:
        self._last_error_at = self.clock.now()
        self._last_error = f"{exc.code}: {exc.message}"[:300]

    def _succeeded(self) -> None:
        self.breaker.record_success()
        self._counts["successes"] += 1
        self._last_success = self.clock.now()
        self._count("ok")
        if self.metrics is not None:
            self.metrics.last_success.labels(self.source).set(self._last_success.timestamp())

    def _failed(self, exc: SourceError) -> SourceError:
        """Book a failed attempt; unavailability and bad bodies count against the breaker."""
        self._note_error(exc)
        self._count(outcome_label(exc))
        if isinstance(exc, SourceRateLimited):
            self._counts["rate_limited"] += 1
            if exc.retry_after is not None:
                self.limiter.block_for(exc.retry_after)
            self.breaker.release_probe()
        elif isinstance(exc, SourceUnavailable | SourceDecodeError):
            self._counts["failures"] += 1
            self.breaker.record_failure()
        else:
            # The upstream answered coherently (auth, bad request, not found): it is up.
            self.breaker.record_success()
        return exc


__all__ = [
    "USER_AGENT",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "Clock",
    "HttpPolicy",
    "ManualClock",
    "RateLimit",
    "RateLimiter",
    "ResilientClient",
    "RetryBudget",
    "RetryPolicy",
    "SourceHealth",
    "SystemClock",
    "classify_status",
    "decode_json",
    "parse_retry_after",
]
