"""API keys and their audit trail. All key SQL lives here.

The lookup used on the request path (:func:`key_for_auth`) always returns
exactly one row, whether or not the id exists: a constant one-row subquery is
LEFT JOINed to ``api_keys``. An unknown id and a known one therefore cost the
same round trip and the same row decoding, which keeps "does this key id
exist?" out of the response time (the caller also compares against a dummy
hash; see ``app.auth.service``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ApiKey, ApiKeyAuditEvent


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as the auth layer sees it (hashes only; never a secret)."""

    id: str
    name: str
    mode: str
    tier: str
    scopes: tuple[str, ...]
    ip_allowlist: tuple[str, ...]
    secret_hash: str = field(repr=False)
    previous_secret_hash: str | None = field(repr=False)
    previous_valid_until: datetime | None
    hmac_fingerprint: str
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    rotated_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime
    event: str
    key_id: str | None = None
    reason: str | None = None
    client_ip: str | None = None
    actor: str | None = None
    details: dict[str, Any] | None = None


_COLUMNS = (
    ApiKey.id,
    ApiKey.name,
    ApiKey.mode,
    ApiKey.tier,
    ApiKey.scopes,
    ApiKey.ip_allowlist,
    ApiKey.secret_hash,
    ApiKey.previous_secret_hash,
    ApiKey.previous_valid_until,
    ApiKey.hmac_fingerprint,
    ApiKey.created_at,
    ApiKey.created_by,
    ApiKey.expires_at,
    ApiKey.rotated_at,
    ApiKey.revoked_at,
)


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        name=row.name,
        mode=row.mode,
        tier=row.tier,
        scopes=tuple(row.scopes or ()),
        ip_allowlist=tuple(row.ip_allowlist or ()),
        secret_hash=row.secret_hash,
        previous_secret_hash=row.previous_secret_hash,
        previous_valid_until=row.previous_valid_until,
        hmac_fingerprint=row.hmac_fingerprint,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        rotated_at=row.rotated_at,
        revoked_at=row.revoked_at,
    )


async def key_for_auth(session: AsyncSession, key_id: str) -> ApiKeyRecord | None:
    """The key with ``key_id``, in one statement that returns one row either way."""
    one = select(literal(1).label("one")).subquery("one_row")
    stmt = select(*_COLUMNS).select_from(one.outerjoin(ApiKey, ApiKey.id == key_id))
    row = (await session.execute(stmt)).one()
    return _record(row) if row.id is not None else None


async def get_key(session: AsyncSession, key_id: str) -> ApiKeyRecord | None:
    row = (await session.execute(select(*_COLUMNS).where(ApiKey.id == key_id))).one_or_none()
    return _record(row) if row is not None else None


async def list_keys(session: AsyncSession) -> list[ApiKeyRecord]:
    rows = (await session.execute(select(*_COLUMNS).order_by(ApiKey.created_at, ApiKey.id))).all()
    return [_record(r) for r in rows]


async def insert_key(
    session: AsyncSession,
    *,
    key_id: str,
    name: str,
    mode: str,
    tier: str,
    scopes: Sequence[str],
    ip_allowlist: Sequence[str] | None,
    secret_hash: str,
    hmac_fingerprint: str,
    created_at: datetime,
    created_by: str | None,
    expires_at: datetime | None,
) -> None:
    await session.execute(
        insert(ApiKey).values(
            id=key_id,
            name=name,
            mode=mode,
            tier=tier,
            scopes=list(scopes),
            ip_allowlist=list(ip_allowlist) if ip_allowlist else None,
            secret_hash=secret_hash,
            previous_secret_hash=None,
            previous_valid_until=None,
            hmac_fingerprint=hmac_fingerprint,
            created_at=created_at,
            created_by=created_by,
            expires_at=expires_at,
        )
    )


async def rotate_secret(
    session: AsyncSession,
    key_id: str,
    *,
    old_hash: str,
    new_hash: str,
    previous_valid_until: datetime,
    rotated_at: datetime,
) -> bool:
    """Swap in ``new_hash``, keeping ``old_hash`` valid until ``previous_valid_until``.

    Guarded by the hash read before (compare-and-set): two concurrent rotations
    cannot both win and silently drop one of the secrets they handed out.
    """
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.secret_hash == old_hash, ApiKey.revoked_at.is_(None))
        .values(
            secret_hash=new_hash,
            previous_secret_hash=old_hash,
            previous_valid_until=previous_valid_until,
            rotated_at=rotated_at,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def revoke(session: AsyncSession, key_id: str, at: datetime) -> bool:
    """Mark revoked (only once: the first revocation time is kept)."""
    result = await session.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=at)
    )
    return bool(getattr(result, "rowcount", 0))


async def count_foreign_fingerprints(session: AsyncSession, fingerprint: str) -> int:
    """Active keys issued under a different server secret (they can no longer authenticate)."""
    stmt = (
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.hmac_fingerprint != fingerprint, ApiKey.revoked_at.is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def append_audit_events(session: AsyncSession, events: Sequence[AuditEvent]) -> None:
    if not events:
        return
    await session.execute(
        insert(ApiKeyAuditEvent),
        [
            {
                "at": e.at,
                "event": e.event,
                "key_id": e.key_id,
                "reason": e.reason,
                "client_ip": e.client_ip,
                "actor": e.actor,
                "details": e.details,
            }
            for e in events
        ],
    )


async def audit_events(
    session: AsyncSession, key_id: str | None = None, limit: int = 100
) -> list[AuditEvent]:
    """The newest audit events first, optionally for one key id."""
    stmt = select(ApiKeyAuditEvent).order_by(ApiKeyAuditEvent.id.desc()).limit(limit)
    if key_id is not None:
        stmt = stmt.where(ApiKeyAuditEvent.key_id == key_id)
    rows = (await session.execute(stmt)).scalars().all()
    return [
        AuditEvent(
            at=r.at,
            event=r.event,
            key_id=r.key_id,
            reason=r.reason,
            client_ip=r.client_ip,
            actor=r.actor,
            details=r.details,
        )
        for r in rows
    ]
