"""What every REST adapter shares: timeout/retry/breaker settings and the adapter base.

Each provider module defines a frozen ``<Provider>Config`` (host, key, request
budget) that embeds one :class:`HttpSettings`; the ingest layer builds those
from the app settings, so this package never reads configuration itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import httpx

from sources import resilience
from sources.http import (
    BreakerPolicy,
    Clock,
    HttpPolicy,
    RateLimit,
    ResilientClient,
    RetryPolicy,
    SourceHealth,
)
from sources.metrics import SourceMetrics
from sources.records import Batch, ExchangeMarket
from sources.validate import as_object, collect, required, text_of

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Per-source timeouts, deadline, retries and breaker (defaults: see ``sources.http``)."""

    connect_timeout: float = resilience.CONNECT_TIMEOUT_S
    read_timeout: float = resilience.READ_TIMEOUT_S
    deadline: float = resilience.DEADLINE_S
    max_queue_wait: float = resilience.MAX_QUEUE_WAIT_S
    max_retries: int = resilience.MAX_RETRIES
    backoff_base: float = resilience.BACKOFF_BASE_S
    backoff_cap: float = resilience.BACKOFF_CAP_S
    retry_budget_ratio: float = resilience.RETRY_BUDGET_RATIO
    breaker_failures: int = resilience.BREAKER_CONSECUTIVE_FAILURES
    breaker_failure_rate: float = resilience.BREAKER_FAILURE_RATE
    breaker_window: int = resilience.BREAKER_WINDOW
    breaker_reset: float = resilience.BREAKER_RESET_S

    def policy(self, rate_limit: RateLimit) -> HttpPolicy:
        return HttpPolicy(
            rate_limit=rate_limit,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            deadline=self.deadline,
            max_queue_wait=self.max_queue_wait,
            retry=RetryPolicy(
                max_retries=self.max_retries,
                base_delay=self.backoff_base,
                max_delay=self.backoff_cap,
                budget_ratio=self.retry_budget_ratio,
            ),
            breaker=BreakerPolicy(
                consecutive_failures=self.breaker_failures,
                failure_rate=self.breaker_failure_rate,
                window=self.breaker_window,
                reset_timeout=self.breaker_reset,
            ),
        )


@dataclass(frozen=True, slots=True)
class Wiring:
    """Injected collaborators: tests pass a transport and a manual clock; the app
    passes a shared ``httpx.AsyncClient`` and its metrics."""

    transport: httpx.AsyncBaseTransport | None = None
    client: httpx.AsyncClient | None = None
    clock: Clock | None = None
    rng: random.Random | None = None
    metrics: SourceMetrics | None = None


class RestAdapter:
    """Base of the REST adapters: owns a :class:`ResilientClient`, exposes health."""

    source: ClassVar[str]

    def __init__(self, client: ResilientClient) -> None:
        self.client = client
        self.clock = client.clock

    @classmethod
    def _client(
        cls,
        base_url: str,
        policy: HttpPolicy,
        wiring: Wiring | None,
        **kwargs: Any,
    ) -> ResilientClient:
        w = wiring or Wiring()
        return ResilientClient(
            cls.source,
            base_url,
            policy,
            transport=w.transport,
            client=w.client,
            clock=w.clock,
            rng=w.rng,
            metrics=w.metrics,
            **kwargs,
        )

    def health(self) -> SourceHealth:
        return self.client.health()

    async def aclose(self) -> None:
        await self.client.aclose()

    def _collect(self, kind: str, rows: Iterable[Any], parse: Callable[[Any], T]) -> Batch[T]:
        return collect(self.source, kind, rows, parse, self.client.note_quarantined)

    def _markets(
        self, rows: Iterable[Any], *, symbol: str, base: str, quote: str
    ) -> Batch[ExchangeMarket]:
        """An exchange's pair list, each row read under the exchange's own key names.

        Currency codes are upper-cased; a missing or non-string ``status`` is ``None``.
        """

        def parse(row: Any) -> ExchangeMarket:
            obj = as_object(row)
            return ExchangeMarket(
                source=self.source,
                symbol=text_of(required(obj, symbol), symbol),
                base=text_of(required(obj, base), base).upper(),
                quote=text_of(required(obj, quote), quote).upper(),
                status=obj.get("status") if isinstance(obj.get("status"), str) else None,
            )

        return self._collect("exchange_market", rows, parse)
