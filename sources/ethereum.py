"""Ethereum JSON-RPC over HTTP: batched calls, blocks, fee history, ERC-20 transfer logs.

Transport and failure policy come from :class:`sources.http.ResilientClient`
(timeouts, deadline, retries with full-jitter backoff, request budget, circuit
breaker). JSON-RPC reads are idempotent, so they are retried like GETs even
though they travel as POSTs.

**Batches.** :meth:`EthereumRpc.batch` POSTs a JSON array and matches the
replies to the calls by ``id``: the spec does not promise reply order (and
load-balanced providers do reorder). One element may fail while the others
succeed: such an element comes back as an :class:`RpcError` *value* in its
slot, so the caller decides per item. A reply set that does not answer every
id exactly once is a :class:`~sources.errors.SourceDecodeError` (we never
guess which answer belongs to which question). Batches are split into chunks
of ``max_batch`` (geth accepts 1000; hosted providers often fewer).

**Logs.** :meth:`EthereumClient.transfer_logs` pages ``eth_getLogs`` over block
ranges of at most ``log_page_blocks``. Providers cap the range or the result
count with errors that differ per vendor (``-32005 query returned more than
10000 results``, ``-32602 … block range``, ``-32614 … is limited to``) or just
time out; any of these halves the range and retries, down to a single block.
After a successful shrunken page the range grows back (doubling) toward the
configured size, so one busy stretch does not slow the rest of a backfill.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from sources.errors import (
    SourceDecodeError,
    SourceError,
    SourceRateLimited,
    SourceRequestError,
    SourceTimeout,
)
from sources.ethereum_records import (
    SOURCE,
    TRANSFER_TOPIC,
    BlockHeader,
    FeeHistory,
    TransferLog,
    hex_int,
    parse_block,
    parse_fee_history,
    parse_transfer_log,
    to_hex,
)
from sources.http import HttpPolicy, RateLimit, ResilientClient
from sources.metrics import SourceMetrics

log = logging.getLogger(__name__)

# Module-level policy constants (house rule 7).
MAX_BATCH = 100
LOG_PAGE_BLOCKS = 2000
RATE_LIMIT_PER_MINUTE = 600.0
RPC_DEADLINE_S = 20.0
#: JSON-RPC error codes providers use for "slow down" rather than "you asked wrong".
RATE_LIMIT_CODES = frozenset({-32005, -32029, 429})
_RANGE_HINTS = ("more than", "too many", "limit", "exceed", "range", "too large", "timed out")
FEE_PERCENTILES = (10, 50, 90)


class RpcError(SourceRequestError):
    """A JSON-RPC ``error`` object: ``rpc_code``/``rpc_message`` as the node sent them."""

    code = "UPSTREAM_RPC_ERROR"

    def __init__(self, rpc_code: int, rpc_message: str, data: Any = None) -> None:
        super().__init__(SOURCE, f"JSON-RPC error {rpc_code}: {rpc_message}")
        self.rpc_code = rpc_code
        self.rpc_message = rpc_message
        self.data = data


def error_from(obj: Any) -> SourceError:
    """The typed error for a JSON-RPC ``error`` member."""
    if not isinstance(obj, Mapping):
        return SourceDecodeError(SOURCE, f"malformed error member: {obj!r:.200}")
    code = obj.get("code")
    message = str(obj.get("message", ""))
    if not isinstance(code, int):
        return SourceDecodeError(SOURCE, f"error without an integer code: {obj!r:.200}")
    lowered = message.lower()
    if (
        code in RATE_LIMIT_CODES
        and ("rate" in lowered or "request" in lowered)
        and not ("result" in lowered or "range" in lowered)
    ):
        return SourceRateLimited(SOURCE, f"JSON-RPC {code}: {message}", status=None)
    return RpcError(code, message, obj.get("data"))


def is_log_limit_error(exc: SourceError) -> bool:
    """Whether ``eth_getLogs`` failed because the page was too big (shrink and retry)."""
    if isinstance(exc, SourceTimeout):
        return True
    if isinstance(exc, RpcError):
        return any(hint in exc.rpc_message.lower() for hint in _RANGE_HINTS)
    return False


def _error_hook(response: httpx.Response, body: Any) -> SourceError | None:
    """Map JSON-RPC error envelopes sent with an HTTP error status (some providers do)."""
    if response.is_error and isinstance(body, Mapping) and "error" in body:
        return error_from(body["error"])
    return None


def default_policy(rate_per_minute: float = RATE_LIMIT_PER_MINUTE) -> HttpPolicy:
    return HttpPolicy(
        rate_limit=RateLimit(rate_per_minute), deadline=RPC_DEADLINE_S, read_timeout=10.0
    )


Call = tuple[str, Sequence[Any]]


class EthereumRpc:
    """JSON-RPC 2.0 over HTTP: single calls and id-matched batches."""

    def __init__(
        self,
        url: str,
        *,
        policy: HttpPolicy | None = None,
        max_batch: int = MAX_BATCH,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
        http: ResilientClient | None = None,
        metrics: SourceMetrics | None = None,
    ) -> None:
        self.url = url
        self.max_batch = max(1, max_batch)
        self.http = http or ResilientClient(
            SOURCE,
            url,
            policy or default_policy(),
            error_hook=_error_hook,
            transport=transport,
            client=client,
            metrics=metrics,
        )
        self._ids = itertools.count(1)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _post(self, payload: Any, cost: float) -> Any:
        return await self.http.request_json(
            "POST", "", json_body=payload, cost=cost, idempotent=True
        )

    async def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One call; a JSON-RPC error is raised as its typed error."""
        request_id = next(self._ids)
        body = await self._post(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}, 1
        )
        if not isinstance(body, Mapping) or body.get("id") != request_id:
            raise SourceDecodeError(SOURCE, f"reply does not answer id {request_id}: {body!r:.200}")
        if "error" in body:
            raise error_from(body["error"])
        if "result" not in body:
            raise SourceDecodeError(SOURCE, f"reply has neither result nor error: {body!r:.200}")
        return body["result"]

    async def batch(self, calls: Sequence[Call]) -> list[Any]:
        """Results in the order of ``calls``; a failed element is an :class:`SourceError` value."""
        results: list[Any] = []
        for start in range(0, len(calls), self.max_batch):
            results.extend(await self._batch_chunk(calls[start : start + self.max_batch]))
        return results

    async def _batch_chunk(self, calls: Sequence[Call]) -> list[Any]:
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
            for i, (m, p) in zip(ids, calls, strict=True)
        ]
        body = await self._post(payload, len(calls))
        if isinstance(body, Mapping) and "error" in body:
            raise error_from(body["error"])  # the whole batch was refused
        if not isinstance(body, list):
            raise SourceDecodeError(SOURCE, f"batch reply is not an array: {body!r:.200}")
        wanted = set(ids)
        by_id: dict[int, Any] = {}
        for item in body:
            rid = item.get("id") if isinstance(item, Mapping) else None
            if not isinstance(rid, int) or rid not in wanted or rid in by_id:
                raise SourceDecodeError(
                    SOURCE, f"batch reply with unknown/duplicate id: {item!r:.200}"
                )
            if "error" in item:
                by_id[rid] = error_from(item["error"])
            elif "result" in item:
                by_id[rid] = item["result"]
            else:
                raise SourceDecodeError(SOURCE, f"batch item without result: {item!r:.200}")
        missing = wanted - by_id.keys()
        if missing:
            raise SourceDecodeError(SOURCE, f"batch reply lacks ids {sorted(missing)}")
        return [by_id[i] for i in ids]


@dataclass(frozen=True, slots=True)
class BlockRange:
    """Headers of ``[first, last]`` with each block's fee-history slice."""

    headers: tuple[BlockHeader, ...]
    fees: FeeHistory | None


class EthereumClient:
    """The calls ingest needs, on top of :class:`EthereumRpc`."""

    def __init__(self, rpc: EthereumRpc, *, log_page_blocks: int = LOG_PAGE_BLOCKS) -> None:
        self.rpc = rpc
        self.log_page_blocks = max(1, log_page_blocks)
        #: Logs seen but not stored as ERC-20 transfers, by reason.
        self.skipped: Counter[str] = Counter()

    async def chain_id(self) -> int:
        return hex_int(await self.rpc.call("eth_chainId"), "eth_chainId")

    async def block_number(self) -> int:
        return hex_int(await self.rpc.call("eth_blockNumber"), "eth_blockNumber")

    async def block(self, number: int | str) -> BlockHeader | None:
        tag = to_hex(number) if isinstance(number, int) else number
        return parse_block(await self.rpc.call("eth_getBlockByNumber", [tag, False]))

    async def blocks(self, numbers: Sequence[int]) -> list[BlockHeader | None]:
        """Headers by number in one batch (``None`` where the node has no such block)."""
        replies = await self.rpc.batch(
            [("eth_getBlockByNumber", [to_hex(n), False]) for n in numbers]
        )
        return [parse_block(_raise_error(r)) for r in replies]

    async def fee_history(
        self, count: int, newest: int | str, percentiles: Sequence[int] = FEE_PERCENTILES
    ) -> FeeHistory:
        tag = to_hex(newest) if isinstance(newest, int) else newest
        raw = await self.rpc.call("eth_feeHistory", [to_hex(count), tag, list(percentiles)])
        return parse_fee_history(raw, percentiles)

    async def block_range(self, first: int, last: int) -> BlockRange:
        """Headers and fee history of ``[first, last]`` in a single batched round trip.

        A node without ``eth_feeHistory`` (pre-London) yields ``fees=None``.
        """
        numbers = list(range(first, last + 1))
        calls: list[Call] = [("eth_getBlockByNumber", [to_hex(n), False]) for n in numbers]
        calls.append(
            ("eth_feeHistory", [to_hex(len(numbers)), to_hex(last), list(FEE_PERCENTILES)])
        )
        replies = await self.rpc.batch(calls)
        headers = [parse_block(_raise_error(r)) for r in replies[:-1]]
        fees_raw = replies[-1]
        fees = (
            None
            if isinstance(fees_raw, RpcError)
            else parse_fee_history(_raise_error(fees_raw), FEE_PERCENTILES)
        )
        present = tuple(h for h in headers if h is not None)
        return BlockRange(headers=present, fees=fees)

    async def transfer_logs(
        self, first: int, last: int, contracts: Sequence[str] = ()
    ) -> list[TransferLog]:
        """ERC-20 transfers in ``[first, last]`` (optionally of ``contracts`` only), paged."""
        out: list[TransferLog] = []
        page = self.log_page_blocks
        start = first
        while start <= last:
            end = min(last, start + page - 1)
            try:
                raw = await self._get_logs(start, end, contracts)
            except SourceError as exc:
                if not is_log_limit_error(exc) or end == start:
                    raise
                page = max(1, (end - start + 1) // 2)
                log.info("eth_getLogs %d-%d too big (%s); page -> %d blocks", start, end, exc, page)
                continue
            out.extend(self._transfers(raw))
            start = end + 1
            page = min(self.log_page_blocks, page * 2)
        return out

    async def _get_logs(self, first: int, last: int, contracts: Sequence[str]) -> Any:
        flt: dict[str, Any] = {
            "fromBlock": to_hex(first),
            "toBlock": to_hex(last),
            "topics": [TRANSFER_TOPIC],
        }
        if contracts:
            flt["address"] = [c.lower() for c in contracts]
        raw = await self.rpc.call("eth_getLogs", [flt])
        if not isinstance(raw, list):
            raise SourceDecodeError(SOURCE, f"eth_getLogs result is not an array: {raw!r:.200}")
        return raw

    def _transfers(self, raw: list[Any]) -> list[TransferLog]:
        out: list[TransferLog] = []
        for item in raw:
            try:
                transfer = parse_transfer_log(item)
            except SourceDecodeError as exc:
                # Quarantined: counted in health and the source metrics, never stored.
                self.skipped["malformed"] += 1
                self.rpc.http.note_quarantined("transfer_log", {"malformed": 1})
                log.warning("skipping malformed Transfer log: %s", exc)
                continue
            if transfer is None:
                self.skipped["not_erc20"] += 1
            elif transfer.removed:
                self.skipped["removed"] += 1
            else:
                out.append(transfer)
        return out


def _raise_error(reply: Any) -> Any:
    if isinstance(reply, SourceError):
        raise reply
    return reply


__all__ = [
    "FEE_PERCENTILES",
    "BlockRange",
    "EthereumClient",
    "EthereumRpc",
    "RpcError",
    "default_policy",
    "error_from",
    "is_log_limit_error",
]
