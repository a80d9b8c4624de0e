"""The ingest lifespan component: runs the ingest runner inside ``cryptoql serve``.

The runner starts as a background task, so the server accepts requests at
once (the source probe and the first writes happen behind it). It publishes
through ``services["broker"]`` (the broker component comes first) and is
exposed as ``services["ingest"]`` for health and metrics. It is on by default
and off when ``CRYPTOQL_ENV=test`` unless ``ingest_enabled`` is set explicitly,
so tests that do not ask for ingest never see rows they did not write.

This module translates settings into the runner's configuration:

- the REST sources, the simulated market and the signals (``ingest.config``);
- the live feeds (``ingest.runner.LiveOptions``): the Binance/Coinbase
  WebSocket streams, Token Metrics when a key is set, quote retention and the
  identity tickers bridge;
- the Ethereum pump, started by the runner as one more feed when the mode is
  real and the RPC answered the probe: it follows ``newHeads`` over
  ``eth_ws_url`` when that is set (polling otherwise, and as a backstop),
  computes the on-chain signals with the ``onchain_*`` settings and is closed
  on shutdown;
- observability: the adapters count into the app's Prometheus registry
  (``sources.metrics``), and ``app.ingest_metrics`` adds the ingest and
  per-source figures to ``/metrics`` and an ``ingest`` check to ``/readyz``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from app.ingest_metrics import observe_ingest
from app.lifespan import AppState
from app.settings import Settings
from ingest.config import IngestConfig, RealSources, SignalOptions, SimulatedOptions
from ingest.live_feeds import EthereumFeed, StreamOptions
from ingest.retention import RetentionOptions
from ingest.runner import IngestRunner, LiveOptions
from ingest.tokenmetrics_feed import TokenMetricsOptions
from sources.base import Wiring
from sources.metrics import SourceMetrics
from storage.engine import SessionFactory

log = logging.getLogger("cryptoql.ingest")


def ingest_should_run(settings: Settings) -> bool:
    if "ingest_enabled" in settings.model_fields_set:
        return settings.ingest_enabled
    return settings.ingest_enabled and settings.env != "test"


def ingest_config(settings: Settings) -> IngestConfig:
    urls = {
        "coingecko": settings.ingest_coingecko_url,
        "binance": settings.ingest_binance_url,
        "coinbase": settings.ingest_coinbase_url,
        "ethereum": settings.eth_rpc_url,
    }
    return IngestConfig(
        mode=settings.ingest_mode,
        assets=tuple(settings.ingest_assets),
        probe_timeout=settings.ingest_probe_timeout_seconds,
        real=RealSources(
            coingecko_url=urls["coingecko"],
            binance_url=urls["binance"],
            coinbase_url=urls["coinbase"],
            ethereum_rpc_url=urls["ethereum"],
            enabled=tuple(name for name, url in urls.items() if url),
            schedule=dict(settings.ingest_schedule_seconds),
            initial_candle_hours=settings.ingest_initial_candle_hours,
        ),
        simulated=SimulatedOptions(
            seed=settings.simulated_seed,
            tick_seconds=settings.simulated_tick_seconds,
            history_days=settings.simulated_history_days,
            minute_hours=settings.simulated_minute_hours,
        ),
        signals=SignalOptions(
            intervals=tuple(settings.signals_intervals),
            source_priority=tuple(settings.signals_source_priority),
            window=settings.signals_window,
        ),
    )


def live_options(settings: Settings) -> LiveOptions:
    """Streams, Token Metrics, retention and the identity bridge from the settings."""
    streams = None
    if settings.ingest_streams_enabled:
        streams = StreamOptions(
            binance_url=settings.binance_ws_url,
            binance_symbols=tuple(settings.binance_ws_symbols),
            binance_kline_intervals=tuple(settings.binance_ws_kline_intervals),
            coinbase_url=settings.coinbase_ws_url,
            coinbase_products=tuple(settings.coinbase_ws_products),
            flush_seconds=settings.stream_flush_seconds,
        )
    key = settings.tokenmetrics_api_key.get_secret_value() if settings.tokenmetrics_api_key else ""
    tokenmetrics = None
    if key:
        tokenmetrics = TokenMetricsOptions(
            api_key=key,
            base_url=settings.tokenmetrics_url,
            auth_header=settings.tokenmetrics_auth_header,
            calls_per_minute=settings.tokenmetrics_calls_per_minute,
            every_seconds=settings.tokenmetrics_schedule_seconds,
            history_days=settings.tokenmetrics_history_days,
            hourly=settings.tokenmetrics_hourly_signals,
            token_ids=dict(settings.tokenmetrics_token_ids),
        )
    return LiveOptions(
        streams=streams,
        tokenmetrics=tokenmetrics,
        retention=RetentionOptions(
            simulated_quote_hours=settings.retention_simulated_quote_hours,
            real_quote_hours=settings.retention_real_quote_hours,
            every_seconds=settings.retention_interval_seconds,
        ),
        identity_bridge=settings.ingest_identity_bridge,
    )


def ethereum_feeds(
    settings: Settings,
    sessions: SessionFactory,
    broker: Any,
    metrics: SourceMetrics | None = None,
) -> Callable[[str, list[str]], list[Any]]:
    """A factory the runner calls once the mode is known: the Ethereum pump when reachable."""

    def build(mode: str, reachable: list[str]) -> list[Any]:
        if mode != "real" or "ethereum" not in reachable:
            return []
        from ingest.ethereum import EthereumIngestConfig, EthereumPump
        from ingest.onchain_signals import SignalConfig
        from sources.ethereum import EthereumClient, EthereumRpc, default_policy
        from sources.ethereum_ws import NewHeadsFeed

        rpc = EthereumRpc(
            settings.eth_rpc_url,
            policy=default_policy(settings.eth_rate_limit_per_minute),
            max_batch=settings.eth_max_batch_requests,
            metrics=metrics,
        )
        pump = EthereumPump(
            EthereumClient(rpc, log_page_blocks=settings.eth_log_page_blocks),
            sessions,
            EthereumIngestConfig(
                chain_id=settings.eth_chain_id,
                evm_chain_id=settings.eth_evm_chain_id,
                confirmations=settings.eth_confirmations,
                batch_blocks=settings.eth_batch_blocks,
                start_block=settings.eth_start_block,
                initial_backfill_blocks=settings.eth_initial_backfill_blocks,
                token_contracts=tuple(c.lower() for c in settings.eth_token_contracts),
                max_reorg_depth=settings.eth_max_reorg_depth,
                poll_seconds=settings.eth_poll_seconds,
                signals=SignalConfig(
                    gas_window=settings.onchain_gas_window_blocks,
                    volume_bucket_seconds=settings.onchain_volume_bucket_seconds,
                    volume_window=settings.onchain_volume_window_buckets,
                    z_threshold=settings.onchain_z_threshold,
                ),
            ),
            broker=broker,
            heads=NewHeadsFeed(settings.eth_ws_url) if settings.eth_ws_url else None,
        )
        return [EthereumFeed(pump)]

    return build


def make_runner(
    settings: Settings,
    sessions: SessionFactory,
    broker: Any,
    *,
    metrics: SourceMetrics | None = None,
) -> IngestRunner:
    return IngestRunner(
        ingest_config(settings),
        sessions,
        broker,
        wiring=Wiring(metrics=metrics) if metrics is not None else None,
        extra_feeds=ethereum_feeds(settings, sessions, broker, metrics),
        live=live_options(settings),
    )


@asynccontextmanager
async def ingest_component(settings: Settings, state: AppState) -> AsyncIterator[dict[str, Any]]:
    if not ingest_should_run(settings):
        yield {}
        return
    services = state["services"]
    async with observe_ingest(services) as (source_metrics, bind):
        runner = make_runner(
            settings, state["sessions"], services.get("broker"), metrics=source_metrics
        )
        bind(runner)
        runner.start()
        try:
            yield {"ingest": runner}
        finally:
            await runner.stop()


__all__ = [
    "ethereum_feeds",
    "ingest_component",
    "ingest_config",
    "ingest_should_run",
    "live_options",
    "make_runner",
]
