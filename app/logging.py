"""Structured logs: one JSON object per line, each carrying the request id.

The request id lives in a context variable set by the request middleware, so
every record emitted while serving a request (ours, SQLAlchemy's, uvicorn's,
from loader tasks spawned inside the request) gets it from the log record
factory, without anyone passing it around. Fields given with ``extra=`` are
written as top-level keys.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from app.settings import Settings


@dataclass(slots=True)
class RequestInfo:
    """What we learn about one request while serving it (read by logs and metrics)."""

    request_id: str
    operation_name: str | None = None
    operation_type: str | None = None
    error_codes: list[str] = field(default_factory=list)


current_request: ContextVar[RequestInfo | None] = ContextVar("cryptoql_request", default=None)

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def request_id_from(header: str | None) -> str:
    """Reuse the caller's ``X-Request-ID`` when it is short and plain, else make one."""
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    info = current_request.get()
    return info.request_id if info else None


# Attributes every LogRecord has; anything else came from ``extra=``.
_STANDARD = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "request_id", "taskName", "color_message"}


_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Stamps the current request id on every record, whoever logs it and wherever it goes."""
    record = _base_factory(*args, **kwargs)
    record.request_id = current_request_id()
    return record


# Installed on import: whoever can set a request id (this module) makes it visible
# on every record, also to handlers we do not own (test capture, a host's logging).
logging.setLogRecordFactory(_record_with_request_id)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack_info"] = record.stack_info
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = None
        return super().format(record)


_HANDLER_NAME = "cryptoql"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now (test runners swap it per test)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(settings: Settings) -> None:
    """Install our handler on the root logger (idempotent: replaces a previous one).

    ``strawberry.execution`` logs every GraphQL error, expected ones included,
    with a traceback; we log unexpected errors ourselves (with the request id)
    in ``app.errors``, so it is silenced. ``uvicorn.access`` is replaced by our
    access line, which also has the operation name and the request id.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = _StderrHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if settings.log_json else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
