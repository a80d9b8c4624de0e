"""Keep API keys out of every log line, whoever writes it.

Our own code never logs a key, but other loggers do log what a client sent:
uvicorn's access log prints the path *with its query string*, so a key put in
a URL (which we refuse) would still land in the log. A log-record factory
redacts key-looking text in every record's message and arguments before any
handler formats it: keys in our format, ``Bearer`` credentials, and values of
key-like query parameters.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from app.auth.keyformat import LOOKS_LIKE_KEY

REDACTED = "[REDACTED]"
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
_NAMES = r"(?i)\b((?:x[-_]?)?api[-_]?key|access[-_]?token|token|auth(?:orization)?)="
_PARAM = re.compile(_NAMES + r"[^&\s\"']+")
#: In a message template a ``%s`` after ``api_key=`` is a placeholder, not a value:
#: keep it (its argument is redacted separately).
_PARAM_IN_TEMPLATE = re.compile(_NAMES + r"(?!%)[^&\s\"']+")


def redact(text: str, *, template: bool = False) -> str:
    if "cq_" in text:
        text = LOOKS_LIKE_KEY.sub(lambda m: m.group(0)[:8] + REDACTED, text)
    if "=" in text:
        pattern = _PARAM_IN_TEMPLATE if template else _PARAM
        text = pattern.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (int, float)):
        return value
    # Objects formatted with %s (a URL, a request): redact their text if needed.
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


_MARK = "_cryptoql_redacting"


def install() -> None:
    """Wrap the process's current log-record factory, unless it already redacts.

    Called at every app start-up: whoever replaced the factory since (the
    logging setup does, when an app is created) gets wrapped again.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, _MARK, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg, template=bool(record.args))
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _redact_value(v) for k, v in record.args.items()}
        return record

    setattr(factory, _MARK, True)
    logging.setLogRecordFactory(factory)
