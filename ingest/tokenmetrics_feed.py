"""Token Metrics (optional, with an API key): its signals and grades, stored beside ours.

Every row keeps its provenance: ``source = "tokenmetrics"``, its own kinds
(``tm_trading_signal``, ``tm_trader_grade``, ``tm_investor_grade``) so it never
competes with our ``trader_grade`` for "latest of a kind", and the provider's
``token_id``, symbol and figures in ``details``.

**Mapping.** Token Metrics asks and answers by integer ``token_id``. A symbol
lookup there returns several tokens (bridged variants), so ids are never
guessed from tickers: they come from the identity override file
(``aliases.tokenmetrics``) and from the explicit ``token_ids`` setting
(canonical id → token id), are stored as ``tokenmetrics`` aliases of the
assets we follow, and only those ids are fetched.

**Cadence.** Token Metrics publishes daily signals and grades (hourly signals
on request), so one cycle an hour is plenty for its conservative default
budget (20 calls/min). Each endpoint has its own cursor (the first day to
fetch next), committed in the same transaction as its rows; the current day
is fetched again on the next cycle because its values may still change, and
re-writing is an upsert. An endpoint the plan does not include (401 with an
upgrade message) is skipped for the life of the process; other failures are
retried on the next cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ingest.health import rest_health
from ingest.publish import Publisher
from ingest.writer import Clock, utcnow
from sources import identity
from sources.base import Wiring
from sources.errors import SourceError, SourcePlanRestricted
from sources.records import GradeRecord, SignalRecord
from sources.tokenmetrics import BASE_URL, CALLS_PER_MINUTE, TokenMetrics, TokenMetricsConfig
from storage import records as stored
from storage.engine import SessionFactory
from storage.repositories import aliases as alias_repo
from storage.repositories import ingest as repo

log = logging.getLogger("cryptoql.ingest.tokenmetrics")

SOURCE = "tokenmetrics"
PROVIDER = "Token Metrics"
#: Retry sooner than the schedule while none of our assets is mapped yet (identity pending).
NOT_READY_RETRY_S = 30.0


@dataclass(frozen=True, slots=True)
class TokenMetricsOptions:
    api_key: str
    base_url: str = BASE_URL
    auth_header: str = "x-api-key"
    calls_per_minute: float = CALLS_PER_MINUTE
    every_seconds: float = 3600.0
    history_days: int = 7
    hourly: bool = False
    #: canonical id → Token Metrics token_id, on top of the override file's aliases.
    token_ids: Mapping[str, int] = field(default_factory=dict)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def signal_row(asset_id: int, r: SignalRecord) -> stored.SignalRecord:
    kind = "tm_trading_signal" if r.horizon == "1d" else f"tm_trading_signal_{r.horizon}"
    return stored.SignalRecord(
        source=SOURCE,
        asset_id=asset_id,
        kind=kind,
        value=Decimal(r.signal),
        direction=r.direction,
        horizon=r.horizon,
        computed_at=r.observed_at,
        details={
            "provider": PROVIDER,
            "token_id": int(r.source_id),
            "symbol": r.symbol,
            "trend": r.trend,
            "signal_returns": _text(r.signal_returns),
            "holding_returns": _text(r.holding_returns),
            "trader_grade": _text(r.trader_grade),
            "investor_grade": _text(r.investor_grade),
        },
    )


def grade_row(asset_id: int, r: GradeRecord) -> stored.SignalRecord:
    """A provider grade; its direction is ``neutral`` (Token Metrics publishes none)."""
    return stored.SignalRecord(
        source=SOURCE,
        asset_id=asset_id,
        kind=f"tm_{r.kind}_grade",
        value=r.grade,
        direction="neutral",
        horizon="1d",
        computed_at=r.observed_at,
        details={
            "provider": PROVIDER,
            "token_id": int(r.source_id),
            "symbol": r.symbol,
            "change_24h_pct": _text(r.change_24h_pct),
            "components": {name: str(score) for name, score in r.components},
        },
    )


class TokenMetricsFeed:
    name = "tokenmetrics"

    def __init__(
        self,
        sessions: SessionFactory,
        publisher: Publisher,
        options: TokenMetricsOptions,
        assets: Sequence[str],
        *,
        wiring: Wiring | None = None,
        clock: Clock = utcnow,
        overrides: identity.Overrides | None = None,
    ) -> None:
        self.sessions, self.publisher, self.options = sessions, publisher, options
        self.assets = tuple(assets)
        self.clock = clock
        self.overrides = overrides or identity.Overrides.load()
        self.adapter = TokenMetrics(
            TokenMetricsConfig(
                api_key=options.api_key,
                base_url=options.base_url,
                auth_header=options.auth_header,
                calls_per_minute=options.calls_per_minute,
            ),
            wiring,
        )
        self.skipped: set[str] = set()  # endpoints the plan does not include
        self.errors: dict[str, str] = {}
        self.written = 0
        self.cycles = 0
        self.mapped: dict[int, tuple[int, str]] = {}

    async def aclose(self) -> None:
        await self.adapter.aclose()

    # ------------------------------------------------------------------ mapping

    def configured(self) -> dict[int, str]:
        """token_id → canonical id: the override file's aliases, then the setting's additions.

        A token id the override file already maps keeps that (reviewed) mapping:
        the identity refresh stores the file's aliases too, so letting the setting
        win here would only make the stored alias flip between the two.
        """
        wanted = set(self.assets)
        reviewed = {
            int(ext): cid
            for ext, cid in self.overrides.aliases.get(SOURCE, {}).items()
            if ext.isdigit()
        }
        out = {tid: cid for tid, cid in reviewed.items() if cid in wanted}
        for cid, token_id in self.options.token_ids.items():
            tid = int(token_id)
            if tid in reviewed and reviewed[tid] != cid:
                log.warning(
                    "Token Metrics id %d is %s in the identity override file; "
                    "the setting's %s is ignored",
                    tid,
                    reviewed[tid],
                    cid,
                )
                continue
            if cid in wanted:
                out[tid] = cid
        return out

    async def mapping(self) -> dict[int, tuple[int, str]]:
        """token_id → (asset id, canonical id) for the stored assets; stores the aliases."""
        configured = self.configured()
        async with self.sessions() as session:
            ids = await repo.asset_ids_by_canonical(session, sorted(set(configured.values())))
            rows = [
                repo.AliasRow(ids[cid], SOURCE, str(tid))
                for tid, cid in configured.items()
                if cid in ids
            ]
            if rows:
                await repo.upsert_aliases(session, rows)
                await session.commit()
            stored = await alias_repo.aliases_of_source(session, SOURCE, list(ids.values()))
        by_id = {aid: cid for cid, aid in ids.items()}
        self.mapped = {int(ext): (aid, by_id[aid]) for ext, aid in stored.items() if ext.isdigit()}
        return self.mapped

    # ------------------------------------------------------------------ cycles

    async def _start(self, stream: str, today: date) -> date:
        async with self.sessions() as session:
            raw = await repo.get_cursor(session, SOURCE, stream)
        if raw:
            return min(date.fromisoformat(raw), today)
        return today - timedelta(days=self.options.history_days)

    async def _store(self, stream: str, rows: list[stored.SignalRecord], today: date) -> int:
        """Rows and the endpoint's cursor in one transaction; publish after the commit."""
        unique = {(r.asset_id, r.kind, r.computed_at): r for r in rows}
        kept = list(unique.values())
        async with self.sessions() as session:
            if kept:
                await repo.upsert_signals(session, kept)
            await repo.set_cursor(session, SOURCE, stream, today.isoformat(), self.clock())
            await session.commit()
        names = dict(self.mapped.values())
        await self.publisher.signals([(names[r.asset_id], r) for r in kept])
        if kept:
            await self.publisher.bump(["signals"])
        self.written += len(kept)
        return len(kept)

    async def _endpoint(self, stream: str, tokens: list[int], today: date) -> int:
        start = await self._start(stream, today)
        aid = {tid: pair[0] for tid, pair in self.mapped.items()}
        rows: list[stored.SignalRecord]
        if stream.startswith("signals"):
            batch = await self.adapter.trading_signals(
                tokens, start, today, hourly=self.options.hourly
            )
            rows = [
                signal_row(aid[int(r.source_id)], r)
                for r in batch.records
                if int(r.source_id) in aid
            ]
        else:
            fetch = (
                self.adapter.trader_grades
                if stream == "trader_grades"
                else self.adapter.investor_grades
            )
            grades = await fetch(tokens, start, today)
            rows = [
                grade_row(aid[int(r.source_id)], r)
                for r in grades.records
                if int(r.source_id) in aid
            ]
        return await self._store(stream, rows, today)

    def streams(self) -> list[str]:
        signals = "signals:1h" if self.options.hourly else "signals:1d"
        return [s for s in (signals, "trader_grades", "investor_grades") if s not in self.skipped]

    async def cycle(self) -> bool:
        """One pass over every endpoint; ``False`` when no asset is mapped yet."""
        mapped = await self.mapping()
        if not mapped:
            return False
        tokens = sorted(mapped)
        today = self.clock().date()
        for stream in self.streams():
            try:
                await self._endpoint(stream, tokens, today)
            except SourcePlanRestricted as exc:
                self.skipped.add(stream)
                log.warning("Token Metrics: %s is not in this plan; skipped (%s)", stream, exc)
            except SourceError as exc:
                self.errors[stream] = f"{exc.code}: {exc.message}"[:300]
                log.warning("Token Metrics %s failed: %s", stream, exc)
            else:
                self.errors.pop(stream, None)
        self.cycles += 1
        return True

    async def run_once(self) -> None:
        await self.cycle()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            ready = await self.cycle()
            if not ready:
                log.info("Token Metrics: no followed asset has a token id yet; retrying")
            wait = self.options.every_seconds if ready else NOT_READY_RETRY_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    def health(self) -> dict[str, dict[str, Any]]:
        error = "; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or None
        entry = rest_health(self.adapter.health(), error)
        entry["mapped_tokens"] = sorted(self.mapped)
        entry["skipped_endpoints"] = sorted(self.skipped)
        entry["written"] = self.written
        return {SOURCE: entry}


__all__ = [
    "SOURCE",
    "TokenMetricsFeed",
    "TokenMetricsOptions",
    "grade_row",
    "signal_row",
]
