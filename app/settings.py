"""Settings, read from the environment (and an optional ``.env``-style file).

Every setting has a default that serves the embedded configuration: a SQLite
file under ``./data`` and an in-process broker. Environment variable names are
the upper-case field names; ``DATABASE_URL`` and ``REDIS_URL`` are also read
under those common names.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CostTierSetting(BaseModel):
    """One budget tier: a leaky bucket of ``capacity`` points refilled at ``restore_rate``/s."""

    capacity: float = Field(gt=0)
    restore_rate: float = Field(gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CRYPTOQL_",
        env_file=None,
        extra="ignore",
        populate_by_name=True,
    )

    # --- core -------------------------------------------------------------
    env: Literal["development", "production", "test"] = Field(
        default="development",
        description=(
            "`development` (GraphiQL, introspection, field suggestions on), `production` "
            "(locked down) or `test`."
        ),
    )
    data_dir: Path = Field(
        default=Path("data"), description="Where the SQLite file and generated secrets live."
    )
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("DATABASE_URL", "CRYPTOQL_DATABASE_URL"),
        description="SQLAlchemy URL; empty means a SQLite file under data_dir.",
    )
    redis_url: str = Field(
        default="",
        validation_alias=AliasChoices("REDIS_URL", "CRYPTOQL_REDIS_URL"),
        description="Redis URL for shared budgets, key revocation and pub/sub; empty = in-process.",
    )
    auto_migrate: bool = Field(
        default=True, description="Upgrade the database schema to the newest revision on start."
    )
    log_level: str = Field(default="INFO", description="Log level (DEBUG, INFO, WARNING …).")
    log_json: bool = Field(
        default=True, description="JSON log lines with a request id; false for plain text."
    )

    # --- HTTP server (app/main.py, app/view.py; docs/server.md) ---------------
    host: str = Field(default="127.0.0.1", description="Bind address for `cryptoql serve`.")
    port: int = Field(default=8000, description="Port for `cryptoql serve`.")
    workers: int = Field(default=1, description="Worker processes for `cryptoql serve`.")
    cors_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Browser origins allowed to call the API cross-origin (CORS and WebSocket), "
            'as a JSON list, e.g. `["https://app.example"]`; empty allows none.'
        ),
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest request body (counted as it streams in) and query string; 413/414.",
    )
    max_json_depth: int = Field(
        default=32, ge=4, le=512, description="Deepest JSON nesting accepted in a request (400)."
    )
    compress_min_bytes: int = Field(
        default=1024, ge=0, description="Compress responses (brotli or gzip) from this size."
    )
    graphiql: bool | None = Field(
        default=None,
        description="Serve GraphiQL at GET /graphql; unset means on except in production.",
    )
    introspection: bool | None = Field(
        default=None,
        description=(
            "Allow schema introspection for everyone; unset means on except in production. "
            "When off, admin keys and `key_introspection_tiers` still may."
        ),
    )
    request_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Wall-clock limit for one GraphQL request (503)."
    )
    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics at /metrics.")
    otel_enabled: bool = Field(
        default=False,
        description="OpenTelemetry tracing of GraphQL operations (needs opentelemetry installed).",
    )

    # --- GraphQL limits (app/limits.py; docs/server.md) -------------------------
    max_depth: int = Field(default=10, ge=1, description="Deepest field nesting per operation.")
    max_aliases: int = Field(default=30, ge=0, description="Most aliases per operation.")
    max_tokens: int = Field(
        default=2000,
        ge=100,
        description="Most lexical tokens (comments included) per document; parsing stops there.",
    )
    max_document_chars: int = Field(
        default=15_000,
        ge=1000,
        description="Longest GraphQL document text (characters); longer is refused unparsed.",
    )
    max_directives: int = Field(default=50, ge=0, description="Most directives per operation.")
    max_selections: int = Field(
        default=200,
        ge=10,
        description="Most fields one selection set merges (its fragments included).",
    )
    max_fragments: int = Field(default=50, ge=1, description="Most fragments per document.")
    max_variables: int = Field(default=50, ge=1, description="Most variables per operation.")
    max_batch_operations: int = Field(
        default=0, ge=0, description="Operations per array-batched request; 0 turns batching off."
    )

    # --- execution (schema/compiled; docs/performance.md) ----------------------
    compiled_execution: bool = Field(
        default=True,
        description=(
            "Run queries through cached execution plans (same results as graphql-core's "
            "executor, several times faster); false uses the reference executor."
        ),
    )

    # --- data freshness -----------------------------------------------------
    stale_after_seconds: int = Field(
        default=300,
        ge=1,
        description="A per-source quote older than this is `stale` and left out of the consensus.",
    )

    # --- graph reads: freshness, look-backs, consensus (docs/consensus.md) ---
    stale_after_seconds_by_source: dict[str, int] = Field(
        default_factory=dict,
        description='Per-source staleness overrides, e.g. {"coingecko": 600} (JSON in env).',
    )
    quote_max_age_seconds: int = Field(
        default=7 * 86400, ge=1, description="Quotes older than this are never shown."
    )
    max_page_size: int = Field(
        default=250,
        ge=1,
        le=10_000,
        description=(
            "Largest `first` that `assets` accepts; more is a BAD_USER_INPUT "
            "error. Query cost grows with it, so raise tier budgets with it."
        ),
    )
    signal_max_age_seconds: int = Field(
        default=3 * 86400, ge=1, description="Look-back for the latest value of each signal."
    )
    metric_max_age_seconds: int = Field(
        default=86400, ge=1, description="Look-back for a chain's latest metric values."
    )
    consensus_mad_threshold: Decimal = Field(
        default=Decimal("3.5"), gt=0, description="Outlier cut in robust z-scores (MAD rule)."
    )
    consensus_min_deviation: Decimal = Field(
        default=Decimal("0.001"),
        ge=0,
        description="Deviations under this fraction of the median are never outliers.",
    )
    quote_currency_assets: dict[str, str] = Field(
        default_factory=lambda: {
            "USDT": "tether",
            "USDC": "usd-coin",
            "DAI": "dai",
            "FDUSD": "first-digital-usd",
            "BUSD": "binance-usd",
            "TUSD": "true-usd",
        },
        description="Token quote currencies and the asset whose USD price converts them.",
    )

    # --- subscriptions: broker and WebSocket limits (docs/subscriptions.md) ---
    pubsub_replay_window: int = Field(
        default=1000, ge=1, description="Events retained per channel so `after:` can resume."
    )
    pubsub_queue_size: int = Field(
        default=10_000,
        ge=16,
        description="Events queued per in-process broker subscription (one per shared topic).",
    )
    pubsub_namespace: str = Field(
        default="", description="Prefix of every Redis pub/sub key and channel (isolation)."
    )
    ws_init_timeout_seconds: float = Field(
        default=5.0, gt=0, description="`connection_init` must arrive within this (else 4408)."
    )
    ws_keepalive_seconds: float = Field(
        default=15.0, gt=0, description="Server keep-alive interval (`ping` / legacy `ka`)."
    )
    ws_pong_timeout_seconds: float = Field(
        default=45.0,
        gt=0,
        description="Close (4008) a graphql-transport-ws socket silent this long despite pings.",
    )
    ws_idle_timeout_seconds: float = Field(
        default=300.0, gt=0, description="Close (4008) a socket without subscriptions this long."
    )
    ws_max_connection_age_seconds: float = Field(
        default=4 * 3600.0,
        gt=0,
        description="Close (4012) older sockets; clients reconnect and resume with `after:`.",
    )
    ws_max_connections_per_key: int = Field(
        default=20, ge=1, description="Open WebSockets per API key (or IP when anonymous)."
    )
    ws_max_subscriptions_per_key: int = Field(
        default=200, ge=1, description="Active subscriptions per API key over all its sockets."
    )
    ws_max_subscriptions_per_connection: int = Field(
        default=50, ge=1, description="Active subscriptions on one WebSocket."
    )
    ws_send_queue_size: int = Field(
        default=256,
        ge=1,
        description="Frames queued per blocks/signals subscription before dropping the oldest.",
    )
    ws_drop_close_threshold: int = Field(
        default=1000,
        ge=1,
        description="Frames dropped for one slow subscriber before its socket is closed (4013).",
    )
    ws_slow_close_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Close (4013) a socket whose pending write has not completed for this long.",
    )
    gc_tuning: bool | None = Field(
        default=None,
        description=(
            "Freeze start-up objects and raise the GC thresholds (thousands of long-lived "
            "sockets make full collections pause the event loop); unset = on except in tests."
        ),
    )

    # --- API keys and scopes (app/auth; docs/keys.md) -----------------------
    key_hmac_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Server secret for the HMAC-SHA-256 of API key secrets (at least 32 characters). "
            "Required in production; elsewhere one is generated once into "
            "data_dir/key_hmac_secret (mode 0600)."
        ),
    )
    anonymous_enabled: bool = Field(
        default=True,
        description="Serve requests without an API key (small anonymous budget); off = 401.",
    )
    anonymous_scopes: list[str] = Field(
        default_factory=lambda: ["prices", "signals", "onchain", "streaming"],
        description="Scopes granted to anonymous callers.",
    )
    key_cache_ttl_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description=(
            "How long an instance caches a key lookup. Bounds how late a revocation is seen "
            "without Redis; keep it at 2 s or less."
        ),
    )
    key_cache_max_entries: int = Field(
        default=10_000, ge=1, description="Key lookups cached per instance (LRU)."
    )
    key_invalidation_channel: str = Field(
        default="cryptoql:keys:invalidate",
        description="Redis pub/sub channel that tells every instance to drop a cached key.",
    )
    key_rotation_overlap_hours: float = Field(
        default=24.0, ge=0, description="Default time the old secret stays valid after a rotate."
    )
    key_max_rotation_overlap_hours: float = Field(
        default=168.0, ge=0, description="Longest overlap `keys rotate --overlap` accepts."
    )
    key_audit_queue_size: int = Field(
        default=10_000,
        ge=1,
        description="Auth-failure audit events buffered before the writer drops (and counts) them.",
    )
    key_introspection_tiers: list[str] = Field(
        default_factory=lambda: ["internal"],
        description=(
            "Key tiers that may still introspect when introspection is off (the production "
            "default); keys with the admin scope always may."
        ),
    )

    # --- on-chain: Ethereum JSON-RPC ingest + on-chain signals (docs/onchain.md) ---
    eth_rpc_url: str = Field(
        default="https://ethereum-rpc.publicnode.com",
        description="Ethereum JSON-RPC over HTTP (blocks, fee history, logs); empty disables.",
    )
    eth_ws_url: str = Field(
        default="wss://ethereum-rpc.publicnode.com",
        description="WebSocket for `eth_subscribe newHeads`; empty means HTTP polling only.",
    )
    eth_chain_id: str = Field(default="ethereum", description="Our id of the ingested chain.")
    eth_evm_chain_id: int | None = Field(
        default=1, description="Expected `eth_chainId`; ingest refuses a node on another chain."
    )
    eth_confirmations: int = Field(
        default=0, ge=0, description="Blocks behind the head to stay (reorgs are handled anyway)."
    )
    eth_batch_blocks: int = Field(
        default=50, ge=1, le=1000, description="Blocks fetched and committed per ingest batch."
    )
    eth_max_batch_requests: int = Field(
        default=50, ge=1, le=1000, description="Calls per JSON-RPC batch request."
    )
    eth_log_page_blocks: int = Field(
        default=500,
        ge=1,
        description="Block range per `eth_getLogs` page; halved on provider result limits.",
    )
    eth_rate_limit_per_minute: float = Field(
        default=600.0, gt=0, description="JSON-RPC calls per minute (batch items count)."
    )
    eth_initial_backfill_blocks: int = Field(
        default=128, ge=1, description="Blocks below the head ingested when nothing is stored."
    )
    eth_start_block: int | None = Field(
        default=None, ge=0, description="First block to ingest when nothing is stored."
    )
    eth_token_contracts: list[str] = Field(
        default_factory=lambda: [
            "0xdac17f958d2ee523a2206206994597c13d831ec7",  # USDT
            "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",  # USDC
            "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",  # WETH
            "0x6b175474e89094c44da98b954eedeac495271d0f",  # DAI
        ],
        description="ERC-20 contracts whose transfers are ingested; empty = every Transfer log.",
    )
    eth_poll_seconds: float = Field(
        default=12.0, gt=0, description="Head polling interval when no WebSocket feed is up."
    )
    eth_max_reorg_depth: int = Field(
        default=64, ge=1, description="Deepest reorg the ingest walks back to find an ancestor."
    )
    onchain_gas_window_blocks: int = Field(
        default=100, ge=2, description="Blocks of base-fee history behind a gas-spike z-score."
    )
    onchain_volume_bucket_seconds: int = Field(
        default=3600, ge=1, description="Bucket size for ERC-20 transfer-volume z-scores."
    )
    onchain_volume_window_buckets: int = Field(
        default=24, ge=2, description="Buckets of history behind a transfer-volume z-score."
    )
    onchain_z_threshold: float = Field(
        default=3.0, gt=0, description="|z| at which a gas spike / volume anomaly is flagged."
    )

    # --- live exchange streams: Binance + Coinbase WebSocket (docs/onchain.md) ---
    binance_ws_url: str = Field(
        default="wss://data-stream.binance.vision",
        description="Binance market-data WebSocket host; empty disables the stream.",
    )
    binance_ws_symbols: list[str] = Field(
        default_factory=lambda: ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
        description="Binance markets streamed (trades, klines, mini-tickers).",
    )
    binance_ws_kline_intervals: list[str] = Field(
        default_factory=lambda: ["1m"], description="Kline intervals streamed from Binance."
    )
    coinbase_ws_url: str = Field(
        default="wss://advanced-trade-ws.coinbase.com",
        description="Coinbase Advanced Trade WebSocket; empty disables the stream.",
    )
    coinbase_ws_products: list[str] = Field(
        default_factory=lambda: ["BTC-USD", "ETH-USD", "SOL-USD"],
        description="Coinbase products streamed (ticker + heartbeats).",
    )
    stream_flush_seconds: float = Field(
        default=1.0, gt=0, description="Live ticks are conflated per market and written this often."
    )

    # --- ingest: runner, real sources, simulated market, signals (docs/ingest.md) ---
    ingest_enabled: bool = Field(
        default=True,
        description=(
            "Run ingest inside `cryptoql serve`. Unset, it is on except when CRYPTOQL_ENV=test; "
            "`cryptoql ingest` runs it as a separate worker."
        ),
    )
    ingest_mode: Literal["auto", "real", "simulated"] = Field(
        default="auto",
        description=(
            "auto: probe the real sources at start-up and fall back to the simulated market "
            "(labelled source=simulated:*) when none answers; real; simulated."
        ),
    )
    ingest_assets: list[str] = Field(
        default_factory=lambda: [
            *("bitcoin", "ethereum", "tether", "binancecoin", "solana"),
            *("usd-coin", "ripple", "cardano", "dogecoin"),
        ],
        description="Canonical (CoinGecko) ids of the assets ingested.",
    )
    ingest_probe_timeout_seconds: float = Field(
        default=3.0, gt=0, le=30, description="Start-up reachability probe deadline per source."
    )
    ingest_coingecko_url: str = Field(
        default="https://api.coingecko.com/api/v3",
        description="CoinGecko API base (keyless public by default); empty disables.",
    )
    ingest_binance_url: str = Field(
        default="https://data-api.binance.vision",
        description="Binance spot market-data REST base; empty disables.",
    )
    ingest_coinbase_url: str = Field(
        default="https://api.coinbase.com/api/v3/brokerage",
        description="Coinbase Advanced Trade public REST base; empty disables.",
    )
    ingest_schedule_seconds: dict[str, float] = Field(
        default_factory=lambda: {
            "coingecko": 60.0,
            "binance": 10.0,
            "coinbase": 30.0,
            "identity": 21600.0,
        },
        description="Seconds between ingest cycles per source (JSON in env).",
    )
    ingest_initial_candle_hours: int = Field(
        default=24, ge=1, description="History fetched for a candle stream that has no cursor."
    )
    simulated_seed: int = Field(default=42, description="Seed of the simulated market.")
    simulated_tick_seconds: float = Field(
        default=1.0, gt=0, description="Seconds between simulated quotes and candle updates."
    )
    simulated_history_days: int = Field(
        default=14, ge=1, description="Simulated history written at first start (1h candles)."
    )
    simulated_minute_hours: int = Field(
        default=2, ge=1, description="Most recent hours of simulated history kept at 1m."
    )
    signals_intervals: list[str] = Field(
        default_factory=lambda: ["1h"],
        description="Candle intervals signals are computed on; the first is the primary.",
    )
    signals_source_priority: list[str] = Field(
        default_factory=lambda: ["binance", "coinbase", "coingecko", "simulated:alpha"],
        description="Whose candles the signals follow, first available wins.",
    )
    signals_window: int = Field(
        default=300, ge=60, description="Candles an indicator series is rebuilt from."
    )

    # --- live data wiring: exchange streams, Token Metrics, quote retention, source health
    # (app/ingest_component.py, app/ingest_metrics.py, ingest/live_feeds.py,
    # ingest/tokenmetrics_feed.py, ingest/retention.py; docs/ingest.md) ---
    ingest_streams_enabled: bool = Field(
        default=True,
        description=(
            "In real mode, run the Binance/Coinbase WebSocket streams (`binance_ws_*`, "
            "`coinbase_ws_*`) for the exchanges whose REST API is reachable."
        ),
    )
    ingest_identity_bridge: bool = Field(
        default=True,
        description=(
            "Map exchange currency codes through CoinGecko's `/coins/{id}/tickers` rows "
            "(needs CoinGecko); off = only the identity override file."
        ),
    )
    tokenmetrics_api_key: SecretStr | None = Field(
        default=None,
        description="Token Metrics API key; set, its signals and grades are ingested (real mode).",
    )
    tokenmetrics_url: str = Field(
        default="https://api.tokenmetrics.com/v2", description="Token Metrics API base."
    )
    tokenmetrics_auth_header: str = Field(
        default="x-api-key",
        description="Header carrying the Token Metrics key (older SDKs used `api_key`).",
    )
    tokenmetrics_calls_per_minute: float = Field(
        default=20.0, gt=0, description="Token Metrics request budget (no published limit)."
    )
    tokenmetrics_schedule_seconds: float = Field(
        default=3600.0, gt=0, description="Seconds between Token Metrics ingest cycles."
    )
    tokenmetrics_history_days: int = Field(
        default=7, ge=1, le=365, description="Days fetched from Token Metrics on the first cycle."
    )
    tokenmetrics_hourly_signals: bool = Field(
        default=False, description="Ingest Token Metrics hourly trading signals instead of daily."
    )
    tokenmetrics_token_ids: dict[str, int] = Field(
        default_factory=dict,
        description=(
            'Canonical id → Token Metrics `token_id`, e.g. {"ethereum": 3306} (JSON in env), '
            "on top of the identity override file; ids are never guessed from tickers."
        ),
    )
    retention_simulated_quote_hours: float = Field(
        default=48.0,
        ge=0,
        description="Simulated quotes older than this are deleted (candles are kept); 0 keeps all.",
    )
    retention_real_quote_hours: float = Field(
        default=0.0,
        ge=0,
        description="Real sources' quotes older than this are deleted (candles kept); 0 keeps all.",
    )
    retention_interval_seconds: float = Field(
        default=3600.0, gt=0, description="Seconds between quote retention passes."
    )

    # --- query cost and budgets (cost/, app/cost_glue.py; docs/cost.md) ---
    cost_enforce: bool = Field(
        default=True,
        description=(
            "Reject operations above their maximum cost and throttle callers over budget "
            "(429); false = measure only: price, charge and report, never refuse."
        ),
    )
    cost_max_operation: int = Field(
        default=25_000,
        ge=1,
        description="Most points one operation may cost (a tier's capacity lowers it further).",
    )
    cost_default_list_size: int = Field(
        default=10, ge=0, description="Size assumed for a list field without @listSize."
    )
    cost_introspection: float = Field(
        default=1.0, ge=0, description="Flat cost of a __schema or __type selection."
    )
    cost_breakdown_limit: int = Field(
        default=200, ge=1, description="Entries in a per-field cost breakdown (then truncated)."
    )
    cost_tiers: dict[str, CostTierSetting] = Field(
        default_factory=lambda: {
            "anonymous": {"capacity": 1_000, "restore_rate": 20},
            "free": {"capacity": 5_000, "restore_rate": 100},
            "pro": {"capacity": 25_000, "restore_rate": 500},
            "enterprise": {"capacity": 100_000, "restore_rate": 2_000},
            "internal": {"capacity": 100_000, "restore_rate": 2_000},
        },
        validate_default=True,
        description=(
            "Budget per tier: bucket capacity (points) and restore rate (points/s), JSON in env. "
            "Anonymous callers use `anonymous`."
        ),
    )
    cost_fallback_tier: str = Field(
        default="free", description="Tier applied to a key whose tier is not in `cost_tiers`."
    )
    cost_budget_backend: Literal["auto", "memory", "redis"] = Field(
        default="auto",
        description="Where budgets live: auto = Redis when `redis_url` is set, else in-process.",
    )
    cost_redis_prefix: str = Field(
        default="cryptoql:budget:", description="Prefix of the budget keys in Redis."
    )

    # --- persisted queries and response caching (app/persisted.py, app/response_cache.py;
    # docs/caching.md) ---
    persisted_queries_enabled: bool = Field(
        default=True,
        description="Accept Apollo automatic persisted queries (`extensions.persistedQuery`).",
    )
    persisted_trusted_only: bool = Field(
        default=False,
        description=(
            "Trusted-documents mode: run only documents listed in `persisted_manifest`; "
            "anything else is 400 PERSISTED_QUERY_REQUIRED."
        ),
    )
    persisted_manifest: str = Field(
        default="",
        description=(
            'JSON file of registered documents (`{"<sha256>": "<document>"}` or an Apollo '
            "persisted-query manifest), loaded at start and re-read when it changes."
        ),
    )
    persisted_cache_max_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=0,
        description="Bytes of APQ-registered documents kept per process (LRU).",
    )
    persisted_redis_ttl_seconds: int = Field(
        default=7 * 86400,
        ge=60,
        description="How long an APQ-registered document lives in Redis (shared by processes).",
    )
    persisted_redis_prefix: str = Field(
        default="cryptoql:apq:", description="Prefix of the APQ document keys in Redis."
    )
    response_cache_enabled: bool = Field(
        default=True,
        description=(
            "Cache whole query responses, invalidated by ingest's data versions. Unset, it is "
            "on except when CRYPTOQL_ENV=test (tests write rows without announcing them)."
        ),
    )
    response_cache_backend: Literal["auto", "memory", "redis"] = Field(
        default="auto",
        description="Where cached responses live: auto = Redis when `redis_url` is set.",
    )
    response_cache_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="Bytes of cached responses kept per process (LRU; in front of Redis too).",
    )
    response_cache_max_entry_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Larger responses are never cached."
    )
    response_cache_live_ttl_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "Longest life of a cached answer read at the request time (no `asOf`): ages, "
            "`stale` flags and windows move with the clock."
        ),
    )
    response_cache_ttl_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Longest life of any cached answer (also one pinned by `asOf`): bounds writes "
            "that no data version announces."
        ),
    )
    response_cache_redis_prefix: str = Field(
        default="cryptoql:rc:", description="Prefix of the response cache keys in Redis."
    )
    http_cache_max_age_seconds: int = Field(
        default=1,
        ge=0,
        le=60,
        description=(
            "`Cache-Control: max-age` of cacheable GET answers (with an ETag); 0 = `no-cache` "
            "(browsers and CDNs revalidate every time)."
        ),
    )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'cryptoql.db').resolve()}"

    @property
    def is_production(self) -> bool:
        return self.env == "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
