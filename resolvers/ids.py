"""Opaque global ids for the Relay ``Node`` interface.

A global id is URL-safe base64 of ``"<Type>:<key>"`` where the key is the
object's natural identity (an asset's canonical id, a chain's slug, a block's
``chain:hash``). Natural keys, not database row ids, so a global id survives
a re-import into another database.
"""

from __future__ import annotations

import base64
import binascii

from resolvers.errors import BadUserInput

NODE_TYPES = ("Asset", "Chain", "Block")


_GLOBAL_IDS: dict[tuple[str, str], str] = {}
_GLOBAL_IDS_MAX = 65_536


def to_global_id(type_name: str, key: str) -> str:
    """The global id of ``key`` of ``type_name`` (memoised: a list of a thousand assets
    would otherwise encode a thousand ids per request; bounded, cleared when full)."""
    memo_key = (type_name, key)
    found = _GLOBAL_IDS.get(memo_key)
    if found is None:
        if len(_GLOBAL_IDS) >= _GLOBAL_IDS_MAX:
            _GLOBAL_IDS.clear()
        encoded = base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")
        found = _GLOBAL_IDS[memo_key] = encoded
    return found


def from_global_id(global_id: str) -> tuple[str, str]:
    """``(type name, key)``; a malformed id or unknown type is a ``BAD_USER_INPUT``."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError, binascii.Error):
        text = ""
    type_name, sep, key = text.partition(":")
    if not sep or not key or type_name not in NODE_TYPES:
        raise BadUserInput(
            f"{global_id!r} is not a global id of this API", extensions={"argument": "id"}
        )
    return type_name, key
