"""The API key format: recognisable, typo-proof offline, and split into a public id and a secret.

A key looks like ``cq_live_<id>_<secret><checksum>``:

* ``cq_`` names the product and ``live``/``test`` the key's type (production
  servers issue ``live`` keys, every other environment ``test`` keys), so a
  leaked key is recognisable by secret scanners and a test key pasted into a
  production client fails fast;
* ``<id>`` (12 base62 characters) is the public key id: it is what the
  database is searched by, what logs and the audit trail show, and what
  ``keys rotate``/``keys revoke`` take;
* ``<secret>`` (30 base62 characters, about 178 bits) is never stored; only its
  keyed hash is (:func:`secret_hash`);
* ``<checksum>`` is the CRC32 of everything before it in 6 base62 characters
  (the GitHub token scheme), so a mistyped or truncated key is rejected
  without a database query.

The checksum is not a secret and not an authenticator (anyone can compute it);
it only lets us refuse garbage cheaply.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import zlib
from dataclasses import dataclass, field

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
PRODUCT = "cq"
MODES = ("live", "test")
ID_LENGTH = 12
SECRET_LENGTH = 30
CHECKSUM_LENGTH = 6
MAX_PRESENTED_LENGTH = 256

KEY_PATTERN = re.compile(
    rf"{PRODUCT}_(live|test)_([0-9A-Za-z]{{{ID_LENGTH}}})_"
    rf"([0-9A-Za-z]{{{SECRET_LENGTH}}})([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})"
)
#: Anything that starts like one of our keys: used to refuse keys in URLs and to
#: redact logs, so it deliberately matches partial and mistyped keys too.
LOOKS_LIKE_KEY = re.compile(rf"{PRODUCT}_(?:live|test)_[0-9A-Za-z_]*")
KEY_ID_PATTERN = re.compile(rf"(?:{PRODUCT}_(?:live|test)_)?([0-9A-Za-z]{{{ID_LENGTH}}})")


class KeyFormatError(ValueError):
    """The presented string is not a well-formed key; ``reason`` is for logs only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ParsedKey:
    mode: str
    key_id: str
    secret: str = field(repr=False)


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rem = divmod(number, 62)
        digits.append(BASE62[rem])
    return "".join(reversed(digits)).rjust(width, BASE62[0])


def checksum(body: str) -> str:
    """CRC32 of ``body`` as 6 base62 characters (62**6 > 2**32)."""
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def random_token(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def compose(mode: str, key_id: str, secret: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    body = f"{PRODUCT}_{mode}_{key_id}_{secret}"
    return body + checksum(body)


def generate(mode: str) -> tuple[str, ParsedKey]:
    """A fresh key: ``(full key string, its parts)``. The full string is shown once."""
    parsed = ParsedKey(
        mode=mode, key_id=random_token(ID_LENGTH), secret=random_token(SECRET_LENGTH)
    )
    return compose(parsed.mode, parsed.key_id, parsed.secret), parsed


def new_secret(parsed: ParsedKey) -> tuple[str, ParsedKey]:
    """The same key id with a fresh secret (rotation keeps the id, so budgets and logs follow)."""
    rotated = ParsedKey(mode=parsed.mode, key_id=parsed.key_id, secret=random_token(SECRET_LENGTH))
    return compose(rotated.mode, rotated.key_id, rotated.secret), rotated


def parse(presented: str) -> ParsedKey:
    """Split a presented key, or raise :class:`KeyFormatError` (``malformed``/``bad_checksum``).

    Pure string work: no I/O, so garbage never reaches the database.
    """
    if len(presented) > MAX_PRESENTED_LENGTH:
        raise KeyFormatError("malformed")
    match = KEY_PATTERN.fullmatch(presented)
    if match is None:
        raise KeyFormatError("malformed")
    mode, key_id, secret, check = match.groups()
    if check != checksum(presented[:-CHECKSUM_LENGTH]):
        raise KeyFormatError("bad_checksum")
    return ParsedKey(mode=mode, key_id=key_id, secret=secret)


def normalise_key_id(value: str) -> str:
    """Accept ``<id>`` or ``cq_live_<id>`` (what `keys list` shows) for the CLI and admin API."""
    match = KEY_ID_PATTERN.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a key id: {value!r} (expected {ID_LENGTH} base62 characters)")
    return match.group(1)


def secret_hash(hmac_key: bytes, key_id: str, secret: str) -> str:
    """HMAC-SHA-256 of the secret under the server secret, bound to the key id.

    Binding the id into the MAC means a hash copied onto another row does not
    authenticate that row's id. Hex, 64 characters.
    """
    return hmac.new(hmac_key, f"{key_id}:{secret}".encode("ascii"), hashlib.sha256).hexdigest()


def fingerprint(hmac_key: bytes) -> str:
    """A short, one-way tag of the server secret, stored with each key.

    It tells an operator that keys were issued under a different server secret
    (every such key would fail as a wrong secret otherwise, which is confusing).
    """
    return hashlib.sha256(b"cryptoql key hmac fingerprint:" + hmac_key).hexdigest()[:16]
