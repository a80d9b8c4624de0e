"""Issuing, rotating and revoking keys (used by ``cryptoql keys …`` and the admin route).

Each change and its audit row are committed in one transaction, so the log
cannot miss a change nor record one that did not happen. After the commit
the key id is published on the invalidation channel (when Redis is
configured) so every instance drops its cached copy at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.auth import keyformat
from app.auth.invalidation import publish_invalidation
from app.auth.service import parse_networks, utcnow
from resolvers.principal import ALL_SCOPES
from storage.engine import SessionFactory
from storage.repositories import keys as repo
from storage.repositories.keys import ApiKeyRecord, AuditEvent

log = logging.getLogger("cryptoql.auth.manage")


class KeyAdminError(ValueError):
    """A management request that cannot be done (unknown id, bad scope, revoked key …)."""


@dataclass(frozen=True, slots=True)
class Issued:
    """A key and its full secret string: show ``key`` once, then forget it."""

    key: str
    record: ApiKeyRecord

    def __repr__(self) -> str:
        return f"Issued(record={self.record!r})"


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - ALL_SCOPES)
    if unknown:
        raise KeyAdminError(f"unknown scope(s) {unknown}; choose from {sorted(ALL_SCOPES)}")
    if not scopes:
        raise KeyAdminError("a key needs at least one scope")
    return sorted(set(scopes))


def check_networks(cidrs: list[str]) -> list[str]:
    try:
        return [str(n) for n in parse_networks(cidrs)]
    except ValueError as exc:
        raise KeyAdminError(f"not a CIDR: {exc}") from None


class KeyAdmin:
    def __init__(
        self,
        sessions: SessionFactory,
        hmac_key: bytes,
        mode: str,
        *,
        redis_url: str = "",
        channel: str = "",
    ) -> None:
        self.sessions = sessions
        self.hmac_key = hmac_key
        self.mode = mode
        self.redis_url = redis_url
        self.channel = channel
        self.fingerprint = keyformat.fingerprint(hmac_key)

    async def create(
        self,
        *,
        name: str,
        tier: str,
        scopes: list[str],
        expires_at: datetime | None = None,
        allow_ips: list[str] | None = None,
        actor: str | None = None,
    ) -> Issued:
        scopes = check_scopes(scopes)
        networks = check_networks(allow_ips or [])
        now = utcnow()
        if expires_at is not None and expires_at <= now:
            raise KeyAdminError("expiry must be in the future")
        for _attempt in range(3):
            full, parts = keyformat.generate(self.mode)
            try:
                async with self.sessions() as session, session.begin():
                    await repo.insert_key(
                        session,
                        key_id=parts.key_id,
                        name=name,
                        mode=self.mode,
                        tier=tier,
                        scopes=scopes,
                        ip_allowlist=networks,
                        secret_hash=keyformat.secret_hash(
                            self.hmac_key, parts.key_id, parts.secret
                        ),
                        hmac_fingerprint=self.fingerprint,
                        created_at=now,
                        created_by=actor,
                        expires_at=expires_at,
                    )
                    details: dict[str, Any] = {"name": name, "tier": tier, "scopes": scopes}
                    if expires_at:
                        details["expiresAt"] = expires_at.isoformat()
                    if networks:
                        details["allowIps"] = networks
                    await repo.append_audit_events(
                        session,
                        [AuditEvent(now, "issued", parts.key_id, actor=actor, details=details)],
                    )
            except IntegrityError:  # a 71-bit id collision: draw again
                continue
            record = await self.get(parts.key_id)
            return Issued(key=full, record=record)
        raise KeyAdminError("could not allocate a key id")

    async def rotate(self, key_id: str, overlap: timedelta, *, actor: str | None = None) -> Issued:
        record = await self.get(key_id)
        if record.revoked_at is not None:
            raise KeyAdminError(f"key {key_id} is revoked; create a new key instead")
        now = utcnow()
        parts = keyformat.ParsedKey(mode=record.mode, key_id=record.id, secret="")
        full, rotated = keyformat.new_secret(parts)
        async with self.sessions() as session, session.begin():
            swapped = await repo.rotate_secret(
                session,
                record.id,
                old_hash=record.secret_hash,
                new_hash=keyformat.secret_hash(self.hmac_key, rotated.key_id, rotated.secret),
                previous_valid_until=now + overlap,
                rotated_at=now,
            )
            if not swapped:
                raise KeyAdminError(f"key {key_id} changed meanwhile (rotated or revoked); retry")
            details = {"overlapSeconds": int(overlap.total_seconds())}
            await repo.append_audit_events(
                session, [AuditEvent(now, "rotated", record.id, actor=actor, details=details)]
            )
        await self._announce(record.id)
        return Issued(key=full, record=await self.get(record.id))

    async def revoke(self, key_id: str, *, actor: str | None = None) -> ApiKeyRecord:
        record = await self.get(key_id)
        now = utcnow()
        async with self.sessions() as session, session.begin():
            changed = await repo.revoke(session, record.id, now)
            if changed:
                await repo.append_audit_events(
                    session, [AuditEvent(now, "revoked", record.id, actor=actor)]
                )
        await self._announce(record.id)
        return await self.get(record.id)

    async def get(self, key_id: str) -> ApiKeyRecord:
        try:
            key_id = keyformat.normalise_key_id(key_id)
        except ValueError as exc:
            raise KeyAdminError(str(exc)) from None
        async with self.sessions() as session:
            record = await repo.get_key(session, key_id)
        if record is None:
            raise KeyAdminError(f"no key with id {key_id}")
        return record

    async def all(self) -> list[ApiKeyRecord]:
        async with self.sessions() as session:
            return await repo.list_keys(session)

    async def audit(self, key_id: str | None = None, limit: int = 50) -> list[AuditEvent]:
        if key_id is not None:
            try:
                key_id = keyformat.normalise_key_id(key_id)
            except ValueError as exc:
                raise KeyAdminError(str(exc)) from None
        async with self.sessions() as session:
            return await repo.audit_events(session, key_id, limit)

    async def _announce(self, key_id: str) -> None:
        if not self.redis_url:
            return
        try:
            await publish_invalidation(self.redis_url, self.channel, key_id)
        except Exception as exc:
            # The change is committed; instances still see it within the cache TTL.
            log.warning("could not publish the invalidation of key %s: %s", key_id, exc)
