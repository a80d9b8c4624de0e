"""Relay cursor paging helpers: bounded ``first`` and opaque, versioned cursors.

Cursors are URL-safe base64 of a small JSON document naming what they page
over (``k``), so a cursor from one ordering is refused by another instead of
silently landing mid-list. They are opaque to clients: the format may change.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from resolvers.errors import BadUserInput


def bounded_first(first: int, *, maximum: int, name: str = "first") -> int:
    """``first`` within ``[0, maximum]``, else an explicit error (never silent truncation)."""
    if first < 0 or first > maximum:
        raise BadUserInput(
            f"{name} must be between 0 and {maximum} (got {first}); "
            f"page with `after` for more than {maximum} items",
            extensions={"argument": name, "maximum": maximum},
        )
    return first


def encode_cursor(kind: str, payload: list[Any]) -> str:
    raw = json.dumps({"k": kind, "p": payload}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> list[Any]:
    """The payload of a cursor minted by :func:`encode_cursor` for ``kind``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        doc = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("p"), list):
        raise BadUserInput(
            "after: not a cursor returned by this API", extensions={"argument": "after"}
        )
    if doc.get("k") != kind:
        raise BadUserInput(
            "after: this cursor belongs to another list or ordering; "
            "restart paging without `after`",
            extensions={"argument": "after"},
        )
    payload: list[Any] = doc["p"]
    return payload
