"""Ethereum ``eth_subscribe("newHeads")`` over WebSocket, reconnecting forever.

After each (re)connection the feed sends ``eth_subscribe`` and waits for the
reply carrying the subscription id; only then does it yield
:class:`~sources.ws_stream.Connected` (with the id as ``detail``). A node does
not replay anything on a new subscription, so **a consumer must backfill from
its last stored block every time it sees** ``Connected``: the ingest pump does
exactly that. Notifications of other subscription ids (a stale one from a
previous connection cannot reach us, but a shared connection could carry
others) are ignored.

Heads are parsed into :class:`~sources.ethereum_records.BlockHeader`; geth's
``newHeads`` omits the transaction list, so ``tx_count`` may be ``None`` and
ingest fetches full headers over HTTP anyway. The idle timeout defaults to
five minutes: a chain always produces blocks (mainnet every 12 s), so a long
silence means a dead connection, while a dev chain that mines on demand may
legitimately be quiet for a while.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sources.errors import SourceDecodeError
from sources.ethereum import error_from
from sources.ethereum_records import SOURCE, BlockHeader, parse_block
from sources.ws_stream import Sender, StreamPolicy, WsFeed

IDLE_TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True)
class NewHead:
    header: BlockHeader
    subscription: str


class NewHeadsFeed(WsFeed):
    """``newHeads`` notifications as :class:`NewHead` events."""

    source = SOURCE

    def __init__(self, url: str, policy: StreamPolicy | None = None, **kwargs: Any) -> None:
        super().__init__(url, policy or StreamPolicy(idle_timeout=IDLE_TIMEOUT_S), **kwargs)
        self._ids = itertools.count(1)
        self.subscription: str | None = None

    async def on_open(self, ws: Sender) -> Any:
        self.subscription = None
        request_id = next(self._ids)
        await ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "method": "eth_subscribe",
                    "params": ["newHeads"],
                }
            )
        )
        while True:  # the reply may follow notifications of other subscriptions
            reply = json.loads(await ws.recv())
            if isinstance(reply, dict) and reply.get("id") == request_id:
                break
        if "error" in reply:
            raise error_from(reply["error"])
        subscription = reply.get("result")
        if not isinstance(subscription, str):
            raise SourceDecodeError(SOURCE, f"eth_subscribe reply without an id: {reply!r:.200}")
        self.subscription = subscription
        return subscription

    def parse(self, message: Any) -> Sequence[Any]:
        if not isinstance(message, dict) or message.get("method") != "eth_subscription":
            self.stats.bump("ignored_frames")
            return ()
        params = message.get("params") or {}
        if self.subscription is None or params.get("subscription") != self.subscription:
            self.stats.bump("foreign_notifications")
            return ()
        header = parse_block(params.get("result"))
        if header is None:
            raise SourceDecodeError(SOURCE, "newHeads notification without a header")
        return (NewHead(header, self.subscription),)


__all__ = ["NewHead", "NewHeadsFeed"]
