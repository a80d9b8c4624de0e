"""ASGI entry point for uvicorn (``app.asgi:app``)."""

from __future__ import annotations

import os

from app.main import create_app
from app.settings import Settings

_env_file = os.environ.get("CRYPTOQL_ENV_FILE")
app = create_app(Settings(_env_file=_env_file) if _env_file else Settings())  # type: ignore[call-arg]
