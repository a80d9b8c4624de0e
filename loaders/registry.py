"""The per-request set of loaders. Build one with :func:`build_loaders` per request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from loaders.assets import (
    AssetByCanonicalIdLoader,
    AssetByIdLoader,
    AssetCountByQueryLoader,
    AssetPageByQueryLoader,
    AssetsBySymbolLoader,
)
from loaders.base import InFlight
from loaders.candles import CandlesByAssetLoader
from loaders.chains import (
    BlockByHashLoader,
    BlocksByChainLoader,
    ChainByIdLoader,
    ChainsByScopeLoader,
    ContractsByAssetLoader,
    HeadBlockByChainLoader,
    LatestMetricsByChainLoader,
    MetricSeriesByChainLoader,
)
from loaders.quotes import QuotesByAssetLoader, QuotesByCanonicalIdLoader
from loaders.signals import SignalsByAssetLoader
from loaders.transfers import LargestTransfersByContractLoader, TransferStatsByContractLoader
from storage.engine import SessionFactory

L = TypeVar("L")


class built_once(Generic[L]):  # lower case: a decorator, like the cached_property it replaces
    """``functools.cached_property`` for one request's loader, without the lock Python
    3.11's takes on every first access (one lock per attribute, shared by all requests;
    3.12 dropped it): the getter runs once per instance and its result lands in the
    instance's ``__dict__``, which later reads find before this (non-data) descriptor."""

    def __init__(self, build: Callable[[Any], L]) -> None:
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> built_once[L]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> L: ...
    def __get__(self, instance: object, owner: type | None = None) -> L | built_once[L]:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.build(instance)
        return value


class Loaders:
    """One request's loaders, each built on first use: a request touches a few of the
    nineteen, and building a DataLoader is not free. ``inflight`` (their running batch
    tasks) is shared by all of them."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self.inflight = InFlight()

    @built_once
    def asset_by_id(self) -> AssetByIdLoader:
        return AssetByIdLoader(self.sessions, inflight=self.inflight)

    @built_once
    def asset_by_canonical_id(self) -> AssetByCanonicalIdLoader:
        return AssetByCanonicalIdLoader(self.sessions, inflight=self.inflight)

    @built_once
    def assets_by_symbol(self) -> AssetsBySymbolLoader:
        return AssetsBySymbolLoader(self.sessions, inflight=self.inflight)

    @built_once
    def asset_page(self) -> AssetPageByQueryLoader:
        return AssetPageByQueryLoader(self.sessions, inflight=self.inflight)

    @built_once
    def asset_count(self) -> AssetCountByQueryLoader:
        return AssetCountByQueryLoader(self.sessions, inflight=self.inflight)

    @built_once
    def quotes_by_asset(self) -> QuotesByAssetLoader:
        return QuotesByAssetLoader(self.sessions, inflight=self.inflight)

    @built_once
    def quotes_by_canonical_id(self) -> QuotesByCanonicalIdLoader:
        return QuotesByCanonicalIdLoader(self.sessions, inflight=self.inflight)

    @built_once
    def signals_by_asset(self) -> SignalsByAssetLoader:
        return SignalsByAssetLoader(self.sessions, inflight=self.inflight)

    @built_once
    def candles_by_asset(self) -> CandlesByAssetLoader:
        return CandlesByAssetLoader(self.sessions, inflight=self.inflight)

    @built_once
    def chains(self) -> ChainsByScopeLoader:
        return ChainsByScopeLoader(self.sessions, inflight=self.inflight)

    @built_once
    def chain_by_id(self) -> ChainByIdLoader:
        return ChainByIdLoader(self.sessions, inflight=self.inflight)

    @built_once
    def contracts_by_asset(self) -> ContractsByAssetLoader:
        return ContractsByAssetLoader(self.sessions, inflight=self.inflight)

    @built_once
    def head_block_by_chain(self) -> HeadBlockByChainLoader:
        return HeadBlockByChainLoader(self.sessions, inflight=self.inflight)

    @built_once
    def blocks_by_chain(self) -> BlocksByChainLoader:
        return BlocksByChainLoader(self.sessions, inflight=self.inflight)

    @built_once
    def block_by_hash(self) -> BlockByHashLoader:
        return BlockByHashLoader(self.sessions, inflight=self.inflight)

    @built_once
    def latest_metrics_by_chain(self) -> LatestMetricsByChainLoader:
        return LatestMetricsByChainLoader(self.sessions, inflight=self.inflight)

    @built_once
    def metric_series_by_chain(self) -> MetricSeriesByChainLoader:
        return MetricSeriesByChainLoader(self.sessions, inflight=self.inflight)

    @built_once
    def transfer_stats_by_contract(self) -> TransferStatsByContractLoader:
        return TransferStatsByContractLoader(self.sessions, inflight=self.inflight)

    @built_once
    def largest_transfers_by_contract(self) -> LargestTransfersByContractLoader:
        return LargestTransfersByContractLoader(self.sessions, inflight=self.inflight)

    def shield_loads(self) -> None:
        """Shield the futures loads return (for graphql-core's executor; see
        :meth:`loaders.base.SessionLoader.load`)."""
        self.inflight.shield = True

    async def settle(self, *, cancel: bool = False) -> None:
        """Wait for every batch still running, so none outlives the request.

        Batches whose callers were cancelled finish and return their
        connections; their results and errors went to futures nobody awaits.
        With ``cancel`` (the request itself was cancelled or timed out) the
        batches are cancelled first, so a slow query stops with its request;
        they get ``CANCEL_GRACE_SECONDS`` to close their sessions.
        """
        tasks = self.inflight.tasks
        if cancel:
            self.inflight.closed = True  # batches not started yet will not start
            for task in list(tasks):
                task.cancel()
            if tasks:
                await asyncio.wait(list(tasks), timeout=CANCEL_GRACE_SECONDS)
            return
        while tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


#: how long a cancelled request waits for its cancelled batches to close their sessions
CANCEL_GRACE_SECONDS = 5.0


def build_loaders(sessions: SessionFactory) -> Loaders:
    """Fresh loaders for one request (or one subscription event)."""
    return Loaders(sessions)
