"""``cryptoql keys``: create → use → revoke → refused as real processes; the rest in-process.

Each ``cryptoql`` process spends seconds importing on a busy 2-core box, so
the process round trip is kept to three runs (create, revoke, audit) on the
production backend; rotate, list and the error paths run the same ``main``
in-process on SQLite.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta

import pytest

from app.auth import keyformat
from app.cli import main
from app.cli_keys import parse_duration
from tests.keys.conftest import error_of, keyed_app, post, redis_overrides
from tests.keys.servers import env_for, run_cli

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_cli_round_trip(db, tmp_path):
    """Real processes, so one backend (the production one): the CLI's DB code is shared
    with ``KeyAdmin``, which the in-process tests run on both backends."""
    redis = redis_overrides()
    env = env_for(db.url, tmp_path, **redis)
    code, out, err = await run_cli(
        env,
        "keys", "create", "--name", "ci bot", "--tier", "pro", "--scopes", "prices,signals",
        "--expires-in", "30d", "--allow-ip", "203.0.113.0/24", "--json",
    )  # fmt: skip
    assert code == 0, err
    created = json.loads(out)
    key, key_id = created["key"], created["id"]
    assert keyformat.parse(key).key_id == key_id
    assert created["scopes"] == ["prices", "signals"]
    assert created["allowIps"] == ["203.0.113.0/24"]

    # The server caches keys for 30 s: only the CLI's Redis message can make it notice in time.
    async with keyed_app(db.url, tmp_path, key_cache_ttl_seconds=30, **redis) as k:
        assert (await post(k.client, **{"X-API-Key": key})).status_code == 200

        code, out, err = await run_cli(env, "keys", "revoke", f"cq_test_{key_id}")
        assert code == 0, err
        assert f"revoked {key_id}" in out
        started, status = time.monotonic(), None
        while time.monotonic() - started < 5:
            resp = await post(k.client, **{"X-API-Key": key})
            if resp.status_code != 200:
                status = error_of(resp)
                break
            await asyncio.sleep(0.1)
        assert status is not None, "the revoked key was still accepted after 5 s"
        assert status[:2] == (401, "API_KEY_REVOKED")

    code, out, _ = await run_cli(env, "keys", "audit", key_id, "--json")
    assert code == 0
    events = json.loads(out)
    assert sorted((e["event"], e["reason"]) for e in events) == [
        ("auth_failed", "revoked"),
        ("issued", None),
        ("revoked", None),
    ]
    assert key not in out
    assert keyformat.parse(key).secret not in out


def _in_process(monkeypatch, capsys, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_rotate_and_list(sqlite_template, tmp_path, monkeypatch, capsys):
    db_file = tmp_path / "cli.db"
    db_file.write_bytes(sqlite_template.read_bytes())
    run = _in_process(monkeypatch, capsys, env_for(f"sqlite+aiosqlite:///{db_file}", tmp_path))
    code, out, err = run(
        "keys", "create", "--name", "n", "--tier", "free", "--scopes", "prices", "--json"
    )
    assert code == 0, err
    created = json.loads(out)
    code, out, err = run("keys", "rotate", created["prefix"], "--overlap", "90m", "--json")
    assert code == 0, err
    rotated = json.loads(out)
    assert rotated["id"] == created["id"]
    assert keyformat.parse(rotated["key"]).key_id == created["id"]
    assert rotated["key"] != created["key"]
    assert rotated["state"] == "rotating"
    until = datetime.fromisoformat(rotated["previousSecretValidUntil"])
    assert (
        timedelta(minutes=89)
        < until - datetime.fromisoformat(rotated["rotatedAt"])
        < timedelta(minutes=91)
    )
    code, out, _ = run("keys", "list")
    assert code == 0
    assert created["id"] in out
    assert "rotating" in out
    for key in (created["key"], rotated["key"]):
        assert keyformat.parse(key).secret not in out
    code, out, _ = run("keys", "audit", created["id"])
    assert code == 0
    assert "rotated" in out
    assert "issued" in out


def test_cli_refuses_bad_input(sqlite_template, tmp_path, monkeypatch, capsys):
    """Argument and admin errors exit 2 with a reason; ``--help`` works for every action.

    In-process (``app.cli.main``) with the settings in the environment, as a shell would set them.
    """
    db_file = tmp_path / "cli.db"
    db_file.write_bytes(sqlite_template.read_bytes())
    run = _in_process(monkeypatch, capsys, env_for(f"sqlite+aiosqlite:///{db_file}", tmp_path))

    create = ("keys", "create", "--name", "x", "--tier")
    bad_scope = run(*create, "free", "--scopes", "everything")
    bad_tier = run(*create, "platinum", "--scopes", "prices")
    bad_cidr = run(*create, "free", "--scopes", "prices", "--allow-ip", "nope")
    bad_expiry = run(*create, "free", "--scopes", "prices", "--expires-in", "soon")
    unknown = run("keys", "revoke", "AAAAAAAAAAAA")
    too_long = run("keys", "rotate", "AAAAAAAAAAAA", "--overlap", "30d")
    assert bad_scope[0] == 2
    assert "scopes must be" in bad_scope[2]
    assert bad_tier[0] == 2
    assert "unknown tier" in bad_tier[2]
    assert bad_cidr[0] == 2
    assert "not a CIDR" in bad_cidr[2]
    assert bad_expiry[0] == 2
    assert "not a duration" in bad_expiry[2]
    assert unknown[0] == 2
    assert "no key with id" in unknown[2]
    assert too_long[0] == 2
    assert "longer than the maximum" in too_long[2]
    for sub in ("create", "list", "rotate", "revoke", "audit"):
        code, out, _ = run("keys", sub, "--help")
        assert code == 0
        assert out.startswith(f"usage: cryptoql keys {sub}")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("24h", 86400),
        ("30d", 2592000),
        ("2w", 1209600),
        ("1d12h", 129600),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds
