"""The live-data lifespan component: the broker, the topic hub and the event meter.

``services["broker"]`` is what ingest publishes through and subscriptions read
from: the Redis broker when ``redis_url`` is set (its supervised listener runs
for the life of the process and its health is a ``/readyz`` check), otherwise
the in-process one. ``services["topics"]`` is the hub of shared subscription
topics (``resolvers.subscriptions.topics``); ``services["subscription_meter"]``
charges delivered events to the cost budgets when the cost service runs.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from app.health import register_readiness
from app.lifespan import AppState
from app.settings import Settings
from pubsub.factory import running_broker
from resolvers.subscriptions.metering import Meter
from resolvers.subscriptions.topics import TopicHub


@asynccontextmanager
async def broker_component(settings: Settings, state: AppState) -> AsyncIterator[dict[str, Any]]:
    async with running_broker(
        settings.redis_url,
        replay_window=settings.pubsub_replay_window,
        queue_size=settings.pubsub_queue_size,
        namespace=settings.pubsub_namespace,
    ) as broker:

        async def check() -> tuple[bool, dict[str, Any]]:
            health = broker.health()
            return bool(health["ok"]), health

        register_readiness(state["services"], "broker", check)
        meter = _meter(state["services"])
        hub = TopicHub(broker, meter=meter)
        tuned = _tune_gc(settings)
        try:
            yield {"broker": broker, "topics": hub, "subscription_meter": meter}
        finally:
            await hub.aclose()
            if meter is not None:
                await meter.aclose()
            if tuned is not None:
                gc.unfreeze()
                gc.set_threshold(*tuned)


#: young-generation threshold and the generation multipliers while tuned
GC_THRESHOLDS = (10_000, 10, 10)


def _tune_gc(settings: Settings) -> tuple[int, int, int] | None:
    """Keep the cyclic GC from pausing the loop for long with many open sockets.

    Each socket keeps ~100 container objects alive (coroutine frames of the
    middleware chain, futures, buffers); with 10,000 sockets a full collection
    walks ~10^6 objects and pauses every socket for hundreds of milliseconds,
    several times a second under a busy feed (measured: 0.7 s pauses, p99
    delivery > 500 ms). Freezing what start-up created (modules, schema)
    removes it from every later collection, and higher thresholds make
    collections rarer; garbage cycles are still collected. Returns the
    previous thresholds to restore, or ``None`` when left alone.
    """
    enabled = settings.gc_tuning if settings.gc_tuning is not None else settings.env != "test"
    if not enabled:
        return None
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return (previous[0], previous[1], previous[2])


def _meter(services: dict[str, Any]) -> Meter | None:
    """A meter over the cost service's ``charge``, looked up per flush.

    The cost component is entered before this one and closed after it, so the
    final flush in :meth:`Meter.aclose` still reaches an open budget store.
    """

    async def charge(key: str, tier: str, cost: float) -> Any:
        service = services.get("cost")
        if service is None:
            return _Allowed()
        return await service.charge(key, tier, cost)

    meter = Meter(charge)
    meter.start()
    return meter


class _Allowed:
    allowed = True
    retry_after = 0.0
