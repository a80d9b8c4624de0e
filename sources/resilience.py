"""The failure-policy parts of the resilient client: budgets, breaker, policies.

:class:`RateLimiter` is a token bucket in request-weight units with an
upstream-imposed block (``Retry-After``); :class:`RetryBudget` caps retries to
a fraction of requests; :class:`CircuitBreaker` is closed/open/half-open.
:class:`HttpPolicy` bundles them with the timeouts. The defaults are the
module-level constants below (house rule 7), chosen from the project's
reference (``graphql-security.md`` §5) — see :mod:`sources.http` for how a call
goes through them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sources.clock import Clock
from sources.errors import CircuitOpen, SourceRateLimited

log = logging.getLogger(__name__)

# Module-level retry constants (house rule 7); HttpPolicy defaults come from these.
CONNECT_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 3.0
WRITE_TIMEOUT_S = 1.0
POOL_TIMEOUT_S = 1.0
DEADLINE_S = 5.0
#: How long a call may queue for the request budget (or a provider's Retry-After).
MAX_QUEUE_WAIT_S = 30.0
MAX_RETRIES = 2
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 2.0
RETRY_BUDGET_RATIO = 0.1
RETRY_BUDGET_INITIAL = 3.0
RETRY_BUDGET_CAP = 10.0
BREAKER_CONSECUTIVE_FAILURES = 5
BREAKER_FAILURE_RATE = 0.5
BREAKER_WINDOW = 20
BREAKER_RESET_S = 30.0
BREAKER_HALF_OPEN_PROBES = 1
#: Token shortfalls below this are rounding residue, not a reason to wait.
TOKEN_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A provider's published request budget: ``limit`` units per ``period`` seconds.

    ``burst`` is the bucket size (default a tenth of the limit, at least 1),
    so a restart cannot spend a whole minute's allowance in one instant.
    """

    limit: float
    period: float = 60.0
    burst: float | None = None

    @property
    def rate(self) -> float:
        return self.limit / self.period

    @property
    def capacity(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.limit / 10)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = MAX_RETRIES
    base_delay: float = BACKOFF_BASE_S
    max_delay: float = BACKOFF_CAP_S
    budget_ratio: float = RETRY_BUDGET_RATIO
    budget_initial: float = RETRY_BUDGET_INITIAL
    budget_cap: float = RETRY_BUDGET_CAP


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    consecutive_failures: int = BREAKER_CONSECUTIVE_FAILURES
    failure_rate: float = BREAKER_FAILURE_RATE
    window: int = BREAKER_WINDOW
    reset_timeout: float = BREAKER_RESET_S
    half_open_probes: int = BREAKER_HALF_OPEN_PROBES


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """Timeouts, deadline, retries, breaker and request budget for one upstream."""

    rate_limit: RateLimit
    connect_timeout: float = CONNECT_TIMEOUT_S
    read_timeout: float = READ_TIMEOUT_S
    write_timeout: float = WRITE_TIMEOUT_S
    pool_timeout: float = POOL_TIMEOUT_S
    deadline: float = DEADLINE_S
    max_queue_wait: float = MAX_QUEUE_WAIT_S
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)


# --------------------------------------------------------------------------- parts

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Closed → open on too many failures; open → half-open after a cool-down.

    In half-open, ``half_open_probes`` calls go through; one success closes
    the breaker, one failure re-opens it for another cool-down. Outcomes of
    calls that started before a transition still count (a late failure while
    half-open re-opens, which is the conservative choice).
    """

    def __init__(
        self,
        source: str,
        policy: BreakerPolicy,
        clock: Clock,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.source = source
        self.policy = policy
        self.clock = clock
        self.state: BreakerState = "closed"
        self.consecutive_failures = 0
        self.opened_at = 0.0
        self.times_opened = 0
        self._window: deque[bool] = deque(maxlen=policy.window)
        self._probes_in_flight = 0
        self._on_change = on_change

    def _set(self, state: BreakerState) -> None:
        if state != self.state:
            log.warning("source %s: circuit %s -> %s", self.source, self.state, state)
            self.state = state
            if self._on_change is not None:
                self._on_change(state)

    def retry_after(self) -> float:
        return max(0.0, self.opened_at + self.policy.reset_timeout - self.clock.monotonic())

    def before_call(self) -> None:
        """Admit a call or raise :class:`CircuitOpen`."""
        if self.state == "open":
            if self.retry_after() > 0:
                raise CircuitOpen(self.source, self.retry_after())
            self._set("half_open")
            self._probes_in_flight = 0
        if self.state == "half_open":
            if self._probes_in_flight >= self.policy.half_open_probes:
                raise CircuitOpen(self.source, 0.0)
            self._probes_in_flight += 1

    def record_success(self) -> None:
        self.consecutive_failures = 0
        self._window.append(True)
        if self.state == "half_open":
            self._probes_in_flight = 0
            self._window.clear()
            self._set("closed")

    def record_failure(self) -> None:
        self.consecutive_failures += 1
        self._window.append(False)
        if self.state == "half_open":
            self._open()
            return
        if self.state == "closed" and self._should_open():
            self._open()

    def release_probe(self) -> None:
        """A half-open probe ended with an outcome that says nothing about health."""
        if self.state == "half_open" and self._probes_in_flight > 0:
            self._probes_in_flight -= 1

    def _should_open(self) -> bool:
        if self.consecutive_failures >= self.policy.consecutive_failures:
            return True
        if len(self._window) < self.policy.window:
            return False
        failures = sum(1 for ok in self._window if not ok)
        return failures / len(self._window) >= self.policy.failure_rate

    def _open(self) -> None:
        self.opened_at = self.clock.monotonic()
        self.times_opened += 1
        self._probes_in_flight = 0
        self._window.clear()
        self._set("open")


class RateLimiter:
    """A token bucket in request-weight units, plus an upstream-imposed block.

    ``block_for`` records a provider's ``Retry-After`` (or a near-exhausted
    weight header): until it expires no call is admitted, whichever task asks.
    """

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        self.limit = limit
        self.clock = clock
        self.tokens = limit.capacity
        self._stamp = clock.monotonic()
        self.blocked_until = 0.0
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self.clock.monotonic()
        self.tokens = min(self.limit.capacity, self.tokens + (now - self._stamp) * self.limit.rate)
        self._stamp = now

    def block_for(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, self.clock.monotonic() + seconds)

    def wait_needed(self, cost: float) -> float:
        """Seconds until ``cost`` units can be spent (0 when they can now)."""
        self._refill()
        blocked = max(0.0, self.blocked_until - self.clock.monotonic())
        cost = min(cost, self.limit.capacity)
        short = max(0.0, cost - self.tokens)
        if short < TOKEN_EPSILON:
            # Float residue (6 s x 10/60 tokens/s = 0.9999999999999999): waiting for it
            # would be a wait too small to move a clock, i.e. a spin, not a wait.
            short = 0.0
        return max(blocked, short / self.limit.rate if short else 0.0)

    async def acquire(self, cost: float, max_wait: float, source: str) -> None:
        """Spend ``cost`` units, waiting for them if that takes at most ``max_wait`` s."""
        async with self._lock:
            waited = 0.0
            while True:
                wait = self.wait_needed(cost)
                if wait <= 0:
                    self.tokens -= min(cost, self.limit.capacity)
                    return
                if waited + wait > max_wait:
                    raise SourceRateLimited(
                        source,
                        f"request budget exhausted for {wait:.1f}s",
                        retry_after=wait,
                        status=None,
                    )
                await self.clock.sleep(wait)
                waited += wait


class RetryBudget:
    """Retries allowed as a fraction of requests: each request deposits ``ratio``
    of a token (up to ``cap``), each retry spends one whole token."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.tokens = policy.budget_initial

    def deposit(self) -> None:
        self.tokens = min(self.policy.budget_cap, self.tokens + self.policy.budget_ratio)

    def try_spend(self) -> bool:
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "BREAKER_CONSECUTIVE_FAILURES",
    "BREAKER_FAILURE_RATE",
    "BREAKER_HALF_OPEN_PROBES",
    "BREAKER_RESET_S",
    "BREAKER_WINDOW",
    "CONNECT_TIMEOUT_S",
    "DEADLINE_S",
    "MAX_QUEUE_WAIT_S",
    "MAX_RETRIES",
    "POOL_TIMEOUT_S",
    "READ_TIMEOUT_S",
    "RETRY_BUDGET_CAP",
    "RETRY_BUDGET_INITIAL",
    "RETRY_BUDGET_RATIO",
    "WRITE_TIMEOUT_S",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "HttpPolicy",
    "RateLimit",
    "RateLimiter",
    "RetryBudget",
    "RetryPolicy",
]
