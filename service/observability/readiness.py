"""Readiness: can this replica answer a check right now?

Ready means the database answers a trivial query and each upstream answers ``GET /healthz``
with 200. The mocks serve that path; the real registry and address service are assumed to
serve it too (an unauthenticated liveness path, no personal data). If one does not, point
the probe at whatever path it does offer.

Results are cached for ``cache_seconds`` and concurrent probes share one run, so a burst of
probes from several kubelets and load balancers costs the upstreams one request each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import anyio
import httpx
from sqlalchemy import text

from service.adapters.upstream import status_error
from service.db.engine import Database
from service.logs import get_logger

DATABASE = "database"
HEALTH_PATH = "/healthz"
PROBE_TIMEOUT_SECONDS = 1.0
CACHE_SECONDS = 2.0

_log = get_logger("service.readiness")


class CheckStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True)
class ReadinessReport:
    checks: Mapping[str, CheckStatus]

    @property
    def is_ready(self) -> bool:
        return all(status is CheckStatus.OK for status in self.checks.values())


class ReadinessProbe:
    def __init__(
        self,
        *,
        database: Database,
        upstreams: Mapping[str, httpx.AsyncClient],
        timeout_seconds: float = PROBE_TIMEOUT_SECONDS,
        cache_seconds: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._upstreams = dict(upstreams)
        self._timeout_seconds = timeout_seconds
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._cached: tuple[float, ReadinessReport] | None = None

    async def report(self) -> ReadinessReport:
        async with self._lock:
            if self._cached is not None:
                taken_at, cached = self._cached
                if self._monotonic() - taken_at < self._cache_seconds:
                    return cached
            report = await self._probe()
            self._cached = (self._monotonic(), report)
            return report

    async def _probe(self) -> ReadinessReport:
        names = [DATABASE, *self._upstreams]
        statuses = await asyncio.gather(
            self._check(DATABASE, self._ping_database()),
            *(
                self._check(name, self._ping_upstream(client))
                for name, client in self._upstreams.items()
            ),
        )
        return ReadinessReport(dict(zip(names, statuses, strict=True)))

    async def _check(self, name: str, probe: Awaitable[None]) -> CheckStatus:
        try:
            async with asyncio.timeout(self._timeout_seconds):
                await probe
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, this dependency is down
            _log.warning("readiness.check.failed", check=name, error=type(exc).__name__)
            return CheckStatus.FAILED
        return CheckStatus.OK

    async def _ping_database(self) -> None:
        def ping() -> None:
            # The reader engine: on SQLite the writer's BEGIN IMMEDIATE would queue the probe
            # behind every decision being written.
            with self._database.reader.connect() as connection:
                connection.execute(text("SELECT 1"))

        # A hung driver call cannot be interrupted; abandon the thread and report the timeout.
        await anyio.to_thread.run_sync(ping, abandon_on_cancel=True)

    async def _ping_upstream(self, client: httpx.AsyncClient) -> None:
        response = await client.get(HEALTH_PATH, timeout=self._timeout_seconds)
        if response.status_code != httpx.codes.OK:
            raise status_error(response)
