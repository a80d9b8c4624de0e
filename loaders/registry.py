"""The per-request set of loaders. Build one with :func:`build_loaders` per request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Loaders:
    asset_by_id: AssetByIdLoader
    asset_by_canonical_id: AssetByCanonicalIdLoader
    # --- graph reads (schema/ types) ---
    assets_by_symbol: AssetsBySymbolLoader
    asset_page: AssetPageByQueryLoader
    asset_count: AssetCountByQueryLoader
    quotes_by_asset: QuotesByAssetLoader
    quotes_by_canonical_id: QuotesByCanonicalIdLoader
    signals_by_asset: SignalsByAssetLoader
    candles_by_asset: CandlesByAssetLoader
    chains: ChainsByScopeLoader
    chain_by_id: ChainByIdLoader
    contracts_by_asset: ContractsByAssetLoader
    head_block_by_chain: HeadBlockByChainLoader
    blocks_by_chain: BlocksByChainLoader
    block_by_hash: BlockByHashLoader
    latest_metrics_by_chain: LatestMetricsByChainLoader
    metric_series_by_chain: MetricSeriesByChainLoader
    transfer_stats_by_contract: TransferStatsByContractLoader
    largest_transfers_by_contract: LargestTransfersByContractLoader
    #: the batch tasks of these loaders still running (shared by all of them)
    inflight: InFlight

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
    """Create fresh loaders; must run inside the request's event loop."""
    inflight = InFlight()
    return Loaders(
        asset_by_id=AssetByIdLoader(sessions, inflight=inflight),
        asset_by_canonical_id=AssetByCanonicalIdLoader(sessions, inflight=inflight),
        assets_by_symbol=AssetsBySymbolLoader(sessions, inflight=inflight),
        asset_page=AssetPageByQueryLoader(sessions, inflight=inflight),
        asset_count=AssetCountByQueryLoader(sessions, inflight=inflight),
        quotes_by_asset=QuotesByAssetLoader(sessions, inflight=inflight),
        quotes_by_canonical_id=QuotesByCanonicalIdLoader(sessions, inflight=inflight),
        signals_by_asset=SignalsByAssetLoader(sessions, inflight=inflight),
        candles_by_asset=CandlesByAssetLoader(sessions, inflight=inflight),
        chains=ChainsByScopeLoader(sessions, inflight=inflight),
        chain_by_id=ChainByIdLoader(sessions, inflight=inflight),
        contracts_by_asset=ContractsByAssetLoader(sessions, inflight=inflight),
        head_block_by_chain=HeadBlockByChainLoader(sessions, inflight=inflight),
        blocks_by_chain=BlocksByChainLoader(sessions, inflight=inflight),
        block_by_hash=BlockByHashLoader(sessions, inflight=inflight),
        latest_metrics_by_chain=LatestMetricsByChainLoader(sessions, inflight=inflight),
        metric_series_by_chain=MetricSeriesByChainLoader(sessions, inflight=inflight),
        transfer_stats_by_contract=TransferStatsByContractLoader(sessions, inflight=inflight),
        largest_transfers_by_contract=LargestTransfersByContractLoader(sessions, inflight=inflight),
        inflight=inflight,
    )
