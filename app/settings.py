"""Settings, read from the environment (and an optional ``.env``-style file).

Every setting has a default that serves the embedded configuration: a SQLite
file under ``./data`` and an in-process broker. Environment variable names are
the upper-case field names; ``DATABASE_URL`` and ``REDIS_URL`` are also read
under those common names.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CRYPTOQL_",
        env_file=None,
        extra="ignore",
        populate_by_name=True,
    )

    # --- core -------------------------------------------------------------
    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("data")
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
    auto_migrate: bool = True
    log_level: str = "INFO"
    log_json: bool = True

    # --- HTTP server --------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 64 * 1024
    compress_min_bytes: int = 1024
    graphiql: bool = True
    otel_enabled: bool = False

    # --- GraphQL limits ---------------------------------------------------
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 5000
    max_directives: int = 50
    max_batch_operations: int = 0  # 0 = array batching off

    # --- data freshness -----------------------------------------------------
    stale_after_seconds: int = 300

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
