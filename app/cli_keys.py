"""``cryptoql keys create|list|rotate|revoke|audit``: API key administration.

The full key is printed exactly once, by ``create`` and ``rotate``; it is not
stored anywhere and cannot be shown again (only its keyed hash is kept).
``list`` and ``audit`` never show secrets. ``rotate`` keeps the key id (so
budgets, logs and the audit trail follow the key) and leaves the old secret
valid for ``--overlap`` so clients can switch without downtime. ``revoke``
takes effect on every server within seconds (Redis invalidation when
``REDIS_URL`` is set, else each server's short cache TTL).

The commands use the same settings as the server (environment or
``--env-file``): the database, ``CRYPTOQL_KEY_HMAC_SECRET`` (or the secret
generated under ``CRYPTOQL_DATA_DIR`` outside production) and ``REDIS_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import re
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from app.auth.component import key_mode
from app.auth.manage import Issued, KeyAdmin, KeyAdminError
from app.auth.secret import load_hmac_key
from app.auth.service import utcnow
from app.settings import Settings
from resolvers.principal import ALL_SCOPES
from storage.engine import make_engine, make_session_factory
from storage.repositories.keys import ApiKeyRecord, AuditEvent

SettingsFactory = Callable[[argparse.Namespace], Settings]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_TIER = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``24h``, ``30d``, ``2w`` (and sums such as ``1d12h``)."""
    text = text.strip().lower()
    pos, seconds = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30d, 24h, 90m)")
    return timedelta(seconds=seconds)


def parse_scopes(text: str) -> list[str]:
    scopes = [s.strip() for s in text.split(",") if s.strip()]
    unknown = sorted(set(scopes) - ALL_SCOPES)
    if unknown or not scopes:
        raise argparse.ArgumentTypeError(
            f"scopes must be a comma-separated subset of {','.join(sorted(ALL_SCOPES))}"
        )
    return scopes


def parse_tier(text: str) -> str:
    if not _TIER.fullmatch(text):
        raise argparse.ArgumentTypeError("a tier is a short lower-case name, e.g. free or pro")
    return text


def _actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"[:200]


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def key_state(record: ApiKeyRecord, now: datetime) -> str:
    if record.revoked_at is not None and record.revoked_at <= now:
        return "revoked"
    if record.expires_at is not None and record.expires_at <= now:
        return "expired"
    if record.previous_valid_until is not None and record.previous_valid_until > now:
        return "rotating"
    return "active"


def record_json(record: ApiKeyRecord, now: datetime) -> dict[str, Any]:
    return {
        "id": record.id,
        "prefix": f"cq_{record.mode}_{record.id}",
        "name": record.name,
        "tier": record.tier,
        "scopes": list(record.scopes),
        "allowIps": list(record.ip_allowlist),
        "state": key_state(record, now),
        "createdAt": _when(record.created_at),
        "createdBy": record.created_by,
        "expiresAt": _when(record.expires_at),
        "rotatedAt": _when(record.rotated_at),
        "previousSecretValidUntil": _when(record.previous_valid_until),
        "revokedAt": _when(record.revoked_at),
    }


def _event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": _when(event.at),
        "event": event.event,
        "keyId": event.key_id,
        "reason": event.reason,
        "clientIp": event.client_ip,
        "actor": event.actor,
        "details": event.details,
    }


def _print_issued(issued: Issued, args: argparse.Namespace, headline: str) -> None:
    info = record_json(issued.record, utcnow())
    if args.json:
        print(json.dumps({"key": issued.key, **info}))
        return
    print(headline)
    print(f"\n    {issued.key}\n")
    print("This is the only time the key is shown: store it in a secret manager now.")
    for label, value in (
        ("id", info["id"]),
        ("name", info["name"]),
        ("tier", info["tier"]),
        ("scopes", ",".join(info["scopes"])),
        ("allowed IPs", ",".join(info["allowIps"]) or "any"),
        ("expires", info["expiresAt"]),
    ):
        print(f"  {label:<12} {value}")


async def _with_admin(settings: Settings, work: Callable[[KeyAdmin], Awaitable[int]]) -> int:
    url = settings.effective_database_url
    if settings.auto_migrate:
        from storage import migrate  # Alembic is slow to import: only when needed

        await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    try:
        admin = KeyAdmin(
            make_session_factory(engine),
            load_hmac_key(settings),
            key_mode(settings),
            redis_url=settings.redis_url,
            channel=settings.key_invalidation_channel,
        )
        return await work(admin)
    finally:
        await engine.dispose()


def _run(settings: Settings, work: Callable[[KeyAdmin], Awaitable[int]]) -> int:
    try:
        return asyncio.run(_with_admin(settings, work))
    except KeyAdminError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _create(args: argparse.Namespace, settings: Settings) -> int:
    tiers = sorted(t for t in settings.cost_tiers if t != "anonymous")
    if args.tier not in tiers:
        print(f"error: unknown tier {args.tier!r}; choose from {', '.join(tiers)}", file=sys.stderr)
        return 2
    expires_at = utcnow() + args.expires_in if args.expires_in else None

    async def work(admin: KeyAdmin) -> int:
        issued = await admin.create(
            name=args.name,
            tier=args.tier,
            scopes=args.scopes,
            expires_at=expires_at,
            allow_ips=args.allow_ip,
            actor=_actor(),
        )
        _print_issued(issued, args, "Created API key:")
        return 0

    return _run(settings, work)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(admin: KeyAdmin) -> int:
        now = utcnow()
        rows = [record_json(r, now) for r in await admin.all()]
        if args.json:
            print(json.dumps(rows))
            return 0
        if not rows:
            print("no API keys")
            return 0
        print(f"{'ID':<14}{'STATE':<10}{'TIER':<12}{'SCOPES':<34}{'EXPIRES':<27}NAME")
        for r in rows:
            print(
                f"{r['id']:<14}{r['state']:<10}{r['tier']:<12}{','.join(r['scopes']):<34}"
                f"{r['expiresAt']:<27}{r['name']}"
            )
        return 0

    return _run(settings, work)


def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    overlap: timedelta = args.overlap or timedelta(hours=settings.key_rotation_overlap_hours)
    longest = timedelta(hours=settings.key_max_rotation_overlap_hours)
    if overlap > longest:
        print(f"error: --overlap is longer than the maximum {longest}", file=sys.stderr)
        return 2

    async def work(admin: KeyAdmin) -> int:
        issued = await admin.rotate(args.key_id, overlap, actor=_actor())
        until = _when(issued.record.previous_valid_until)
        _print_issued(issued, args, f"Rotated: the old secret stays valid until {until}.")
        return 0

    return _run(settings, work)


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def work(admin: KeyAdmin) -> int:
        record = await admin.revoke(args.key_id, actor=_actor())
        info = record_json(record, utcnow())
        if args.json:
            print(json.dumps(info))
        else:
            print(f"revoked {record.id} at {info['revokedAt']}")
        return 0

    return _run(settings, work)


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    async def work(admin: KeyAdmin) -> int:
        events = [_event_json(e) for e in await admin.audit(args.key_id, args.limit)]
        if args.json:
            print(json.dumps(events))
            return 0
        for e in events:
            extra = e["reason"] or e["actor"] or ""
            print(
                f"{e['at']}  {e['event']:<12} {e['keyId'] or '-':<14} {extra} {e['clientIp'] or ''}"
            )
        return 0

    return _run(settings, work)


def register(sub: Any, settings_factory: SettingsFactory) -> None:
    """Add ``keys`` and its subcommands to the ``cryptoql`` parser."""
    keys = sub.add_parser(
        "keys",
        help="create, list, rotate and revoke API keys",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    def handler(fn: Callable[[argparse.Namespace, Settings], int]) -> Callable[..., int]:
        return lambda args: fn(args, settings_factory(args))

    p = ksub.add_parser("create", help="issue a key (the secret is printed once)")
    p.add_argument("--name", required=True, help="who or what the key is for")
    p.add_argument(
        "--tier",
        required=True,
        type=parse_tier,
        help="budget tier, one of `cost_tiers` (e.g. free, pro)",
    )
    p.add_argument(
        "--scopes",
        required=True,
        type=parse_scopes,
        help=f"comma-separated, from {','.join(sorted(ALL_SCOPES))}",
    )
    p.add_argument("--expires-in", type=parse_duration, help="e.g. 30d, 12h (default: never)")
    p.add_argument(
        "--allow-ip",
        action="append",
        metavar="CIDR",
        help="only accept the key from this network (repeatable), e.g. 10.0.0.0/8",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=handler(_create))

    p = ksub.add_parser("list", help="show keys (never their secrets)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=handler(_list))

    p = ksub.add_parser("rotate", help="new secret for a key; the old one stays valid a while")
    p.add_argument("key_id", metavar="KEY_ID", help="the key id (or cq_<mode>_<id>)")
    p.add_argument(
        "--overlap",
        type=parse_duration,
        help="how long the old secret keeps working (default: key_rotation_overlap_hours)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=handler(_rotate))

    p = ksub.add_parser("revoke", help="disable a key everywhere, now")
    p.add_argument("key_id", metavar="KEY_ID", help="the key id (or cq_<mode>_<id>)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=handler(_revoke))

    p = ksub.add_parser("audit", help="show the audit log (newest first)")
    p.add_argument("key_id", metavar="KEY_ID", nargs="?", help="only this key")
    p.add_argument("--limit", type=int, default=50, help="events to show (default 50)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=handler(_audit))
