"""The server secret that keys the HMAC of every stored key secret.

Without it a stolen database cannot be used to test guesses offline, which is
why it must never live in the database. In production it is required
(``CRYPTOQL_KEY_HMAC_SECRET``); elsewhere, so that ``cryptoql serve`` and
``cryptoql keys create`` work out of the box, one is generated once into
``<data_dir>/key_hmac_secret`` with mode 0600 and reused by every process
that shares the data directory. Changing it invalidates every issued key.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from app.settings import Settings

log = logging.getLogger("cryptoql.auth")

SECRET_FILE = "key_hmac_secret"  # noqa: S105 (a file name, not a secret)
MIN_LENGTH = 32


class MissingServerSecret(RuntimeError):
    """Production without ``key_hmac_secret``, or one that is too short."""


def load_hmac_key(settings: Settings) -> bytes:
    configured = settings.key_hmac_secret.get_secret_value() if settings.key_hmac_secret else ""
    if configured:
        if len(configured) < MIN_LENGTH:
            raise MissingServerSecret(
                f"CRYPTOQL_KEY_HMAC_SECRET must be at least {MIN_LENGTH} characters"
            )
        return configured.encode()
    if settings.is_production:
        raise MissingServerSecret(
            "CRYPTOQL_KEY_HMAC_SECRET is required in production "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
    return _generated(Path(settings.data_dir) / SECRET_FILE).encode()


def _generated(path: Path) -> str:
    """Read the generated secret, creating it if absent.

    Written to a private temporary file and then hard-linked into place, which
    fails if the file exists: two processes starting together never see a
    half-written secret and agree on one value.
    """
    if path.exists():
        return _read(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(value + "\n")
        os.link(tmp, path)
    except FileExistsError:
        return _read(path)
    finally:
        tmp.unlink(missing_ok=True)
    log.warning(
        "generated a key HMAC secret in %s (mode 0600); API keys are bound to it. "
        "Set CRYPTOQL_KEY_HMAC_SECRET instead in production",
        path,
    )
    return value


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by other users (mode %o); chmod 600 it", path, mode)
    value = path.read_text().strip()
    if len(value) < MIN_LENGTH:
        raise MissingServerSecret(f"{path} holds a secret shorter than {MIN_LENGTH} characters")
    return value
