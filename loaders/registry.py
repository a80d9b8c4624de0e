"""The per-request set of loaders. Build one with :func:`build_loaders` per request."""

from __future__ import annotations

from dataclasses import dataclass

from loaders.assets import (
    AssetByCanonicalIdLoader,
    AssetByIdLoader,
    AssetCountByQueryLoader,
    AssetPageByQueryLoader,
    AssetsBySymbolLoader,
)
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


def build_loaders(sessions: SessionFactory) -> Loaders:
    """Create fresh loaders; must run inside the request's event loop."""
    return Loaders(
        asset_by_id=AssetByIdLoader(sessions),
        asset_by_canonical_id=AssetByCanonicalIdLoader(sessions),
        assets_by_symbol=AssetsBySymbolLoader(sessions),
        asset_page=AssetPageByQueryLoader(sessions),
        asset_count=AssetCountByQueryLoader(sessions),
        quotes_by_asset=QuotesByAssetLoader(sessions),
        quotes_by_canonical_id=QuotesByCanonicalIdLoader(sessions),
        signals_by_asset=SignalsByAssetLoader(sessions),
        candles_by_asset=CandlesByAssetLoader(sessions),
        chains=ChainsByScopeLoader(sessions),
        chain_by_id=ChainByIdLoader(sessions),
        contracts_by_asset=ContractsByAssetLoader(sessions),
        head_block_by_chain=HeadBlockByChainLoader(sessions),
        blocks_by_chain=BlocksByChainLoader(sessions),
        block_by_hash=BlockByHashLoader(sessions),
        latest_metrics_by_chain=LatestMetricsByChainLoader(sessions),
        metric_series_by_chain=MetricSeriesByChainLoader(sessions),
        transfer_stats_by_contract=TransferStatsByContractLoader(sessions),
        largest_transfers_by_contract=LargestTransfersByContractLoader(sessions),
    )
