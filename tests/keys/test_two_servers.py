"""Two real server processes sharing the database and Redis.

A key revoked through one server is refused by the other within 5 s. Both
servers cache keys for 30 s here, so only the Redis invalidation can make that
deadline: the test proves the pub/sub path, not the cache expiry. The same run
puts a real key in a URL (HTTP and WebSocket handshake) and checks the
servers' logs never contain it.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from app.auth import keyformat
from app.auth.manage import KeyAdmin
from tests.keys.conftest import HMAC_SECRET, QUERY, error_of, redis_overrides
from tests.keys.servers import env_for, running_servers

pytestmark = pytest.mark.slow


async def test_revocation_on_one_server_reaches_the_other(db, tmp_path):
    redis = redis_overrides()
    env = env_for(db.url, tmp_path, key_cache_ttl_seconds=30, **redis)
    admin = KeyAdmin(db.sessions, HMAC_SECRET.encode(), "test")
    user = await admin.create(name="user", tier="free", scopes=["prices"])
    operator = await admin.create(name="ops", tier="internal", scopes=["admin"])
    with running_servers(2, env, tmp_path) as (a, b):
        async with httpx.AsyncClient(timeout=10) as http:

            async def ask(server, key):
                return await http.post(
                    f"{server.url}/graphql", json={"query": QUERY}, headers={"X-API-Key": key}
                )

            assert (await ask(a, user.key)).status_code == 200
            assert (await ask(b, user.key)).status_code == 200  # b now caches the key for 30 s

            leaked = await http.get(f"{a.url}/graphql", params={"query": QUERY, "k": user.key})
            assert error_of(leaked)[:2] == (400, "KEY_IN_URL")
            ws_url = a.url.replace("http://", "ws://") + f"/graphql?apiKey={user.key}"
            with pytest.raises(InvalidStatus) as handshake:
                async with connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]):
                    pass
            assert handshake.value.response.status_code == 400
            assert b"KEY_IN_URL" in handshake.value.response.body

            forbidden = await http.post(
                f"{a.url}/admin/keys/{user.record.id}/revoke", headers={"X-API-Key": user.key}
            )
            assert error_of(forbidden)[:2] == (403, "FORBIDDEN")
            revoked = await http.post(
                f"{a.url}/admin/keys/{user.record.id}/revoke", headers={"X-API-Key": operator.key}
            )
            assert revoked.status_code == 200
            assert revoked.json()["id"] == user.record.id
            started = time.monotonic()
            assert error_of(await ask(a, user.key))[:2] == (401, "API_KEY_REVOKED")

            refused_after = None
            while time.monotonic() - started < 5:
                resp = await ask(b, user.key)
                if resp.status_code == 401:
                    assert error_of(resp)[:2] == (401, "API_KEY_REVOKED")
                    refused_after = time.monotonic() - started
                    break
                await asyncio.sleep(0.1)
            assert refused_after is not None, "server b still accepts the revoked key after 5 s"
            assert (await ask(b, operator.key)).status_code == 200
    secret = keyformat.parse(user.key).secret
    for server in (a, b):
        text = server.log_text()
        assert "started" in text  # the log was captured …
        assert secret not in text  # … and holds no secret
        assert user.key not in text
    events = await admin.audit(user.record.id)
    revocations = [e for e in events if e.event == "revoked"]
    assert [e.actor for e in revocations] == [f"admin-key:{operator.record.id}"]
