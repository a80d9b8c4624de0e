"""Authentication: a presented key (or none) in, a :class:`Principal` or an :class:`AuthError` out.

Order of checks, and why:

1. No key: anonymous principal if ``anonymous_enabled``, else 401 ``UNAUTHENTICATED``.
2. Format and checksum (pure string work): 401 ``INVALID_API_KEY``, no database
   query and no audit row (a typo or random noise is not worth a write).
3. Key type: a ``test`` key on a production server (or ``live`` elsewhere)
   is refused the same way, also without a query.
4. Lookup by id through the TTL cache, then the secret's HMAC is compared in
   constant time with the stored hash **and** the previous (rotated) hash. An
   unknown id is compared against a dummy hash, so unknown-id and
   wrong-secret rejections do the same work and take the same time; both
   answer 401 ``INVALID_API_KEY`` with the same message.
5. Only once the caller proved the secret: revoked (401 ``API_KEY_REVOKED``),
   expired (401 ``API_KEY_EXPIRED``), client address outside the key's
   allowlist (403 ``FORBIDDEN``). Telling a secret holder why is useful; telling
   a guesser is not.

Every failure after step 3 is written to the audit log (reason, key id,
client address; never the secret) by the background :class:`AuditWriter`.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from app.auth import errors
from app.auth.audit import AuditWriter
from app.auth.cache import TTLCache
from app.auth.keyformat import KeyFormatError, parse, secret_hash
from resolvers.principal import Principal
from storage.engine import SessionFactory
from storage.repositories import keys as repo
from storage.repositories.keys import ApiKeyRecord, AuditEvent

log = logging.getLogger("cryptoql.auth")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def ip_allowed(client_ip: str, networks: tuple[Network, ...]) -> bool:
    """Whether ``client_ip`` is inside one of ``networks`` (IPv4-mapped IPv6 counts as IPv4)."""
    try:
        addr = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr.version == net.version and addr in net for net in networks)


class KeyService:
    """Process-wide authenticator (``services["keys"]``); safe for concurrent requests."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        hmac_key: bytes,
        mode: str,
        anonymous_enabled: bool,
        anonymous_scopes: Iterable[str],
        cache: TTLCache[ApiKeyRecord],
        audit: AuditWriter,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.hmac_key = hmac_key
        self.mode = mode
        self.anonymous_enabled = anonymous_enabled
        self.anonymous_scopes = frozenset(anonymous_scopes)
        self.cache = cache
        self.audit = audit
        self.clock = clock
        # Compared against when the id is unknown or there is no previous
        # secret: a real HMAC of a random value, so it never matches.
        self._dummy_hash = secret_hash(hmac_key, "", secrets.token_urlsafe(32))
        self._networks: dict[tuple[str, ...], tuple[Network, ...]] = {}

    async def authenticate(self, presented: str | None, client_ip: str) -> Principal:
        if not presented:
            if self.anonymous_enabled:
                return Principal(client_ip=client_ip, scopes=self.anonymous_scopes)
            raise errors.missing()
        try:
            key = parse(presented)
        except KeyFormatError as exc:
            log.info("api key refused: %s", exc.reason, extra={"client_ip": client_ip})
            raise errors.invalid(exc.reason) from None
        if key.mode != self.mode:
            log.info("api key refused: %s key", key.mode, extra={"client_ip": client_ip})
            raise errors.invalid("wrong_mode")

        record = await self.cache.get(key.key_id, self._load)
        mac = secret_hash(self.hmac_key, key.key_id, key.secret)
        current = record.secret_hash if record is not None else self._dummy_hash
        previous = self._dummy_hash
        if record is not None and record.previous_secret_hash is not None:
            previous = record.previous_secret_hash
        matches_current = hmac.compare_digest(mac, current)
        matches_previous = hmac.compare_digest(mac, previous)
        now = self.clock()

        if record is None:
            raise self._fail(errors.invalid("unknown_key"), key.key_id, client_ip)
        overlap_open = record.previous_valid_until is not None and now < record.previous_valid_until
        if not (matches_current or (matches_previous and overlap_open)):
            reason = "previous_secret_expired" if matches_previous else "wrong_secret"
            raise self._fail(errors.invalid(reason), key.key_id, client_ip)
        if record.revoked_at is not None and record.revoked_at <= now:
            raise self._fail(errors.revoked(), key.key_id, client_ip)
        if record.expires_at is not None and record.expires_at <= now:
            raise self._fail(errors.expired(), key.key_id, client_ip)
        if record.ip_allowlist and not ip_allowed(client_ip, self._allowlist(record)):
            raise self._fail(errors.ip_not_allowed(), key.key_id, client_ip)
        return Principal(
            client_ip=client_ip,
            key_id=record.id,
            tier=record.tier,
            scopes=frozenset(record.scopes),
            expires_at=record.expires_at,
        )

    async def is_active(self, key_id: str) -> bool:
        """Whether ``key_id`` is still usable (not revoked, not expired), through the cache.

        For long-lived connections (WebSocket) that authenticated once and must
        notice a revocation: call it periodically and close when it is false.
        """
        record = await self.cache.get(key_id, self._load)
        if record is None:
            return False
        now = self.clock()
        if record.revoked_at is not None and record.revoked_at <= now:
            return False
        return record.expires_at is None or record.expires_at > now

    def invalidate(self, key_id: str) -> None:
        self.cache.evict(key_id)

    async def _load(self, key_id: str) -> ApiKeyRecord | None:
        async with self.sessions() as session:
            return await repo.key_for_auth(session, key_id)

    def _allowlist(self, record: ApiKeyRecord) -> tuple[Network, ...]:
        nets = self._networks.get(record.ip_allowlist)
        if nets is None:
            nets = parse_networks(record.ip_allowlist)
            if len(self._networks) > 1024:
                self._networks.clear()
            self._networks[record.ip_allowlist] = nets
        return nets

    def _fail(self, error: errors.AuthError, key_id: str, client_ip: str) -> errors.AuthError:
        self.audit.record(
            AuditEvent(
                at=self.clock(),
                event="auth_failed",
                key_id=key_id,
                reason=error.reason,
                client_ip=client_ip[:64],
            )
        )
        log.info(
            "api key refused: %s",
            error.reason,
            extra={"key_id": key_id, "client_ip": client_ip},
        )
        return error
