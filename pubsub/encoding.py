"""Message encoding shared by both backends.

Messages cross process boundaries with Redis, so both backends put them through
the same JSON round trip: a consumer sees identical payloads whichever backend
runs (``Decimal`` arrives as its exact string, ``datetime`` as ISO-8601), and a
publisher that mutates its dict after publishing cannot corrupt stored events.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from pubsub.broker import Message


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot publish a {type(value).__name__}")


def dumps(message: Message) -> bytes:
    return orjson.dumps(message, default=_default)


def normalise(message: Message) -> Message:
    """The message as any subscriber will see it (JSON types only)."""
    out: Message = orjson.loads(dumps(message))
    return out
