"""The ASGI application: ``create_app(settings)`` builds it; nothing is built at import."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import yaml
from fastapi import Depends, FastAPI

from service.adapters.pipeline import Transports
from service.api.deps import reject_unknown_query_parameters
from service.api.docs import install_docs
from service.api.middleware import RequestContextMiddleware
from service.api.problems import install_problem_handlers
from service.api.routes import (
    absentee_certificates,
    access_log,
    account_holds,
    audit,
    day_registrations,
    eligibility,
    health,
    list_entries,
    overrides,
    precinct_checks,
    reference,
    search,
    statistics,
)
from service.bootstrap import AppServices, build_services
from service.clock import Clock, SystemClock, clock_from
from service.config import Settings
from service.db.engine import open_database, write_session
from service.db.migrations import require_current_schema
from service.logs import get_logger
from service.usecases.statistics import FOLD_BATCH

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "contracts" / "openapi.yaml"
CHECKPOINT_POLL_SECONDS = 5.0
STATISTICS_POLL_SECONDS = 15.0

_log = get_logger("service.app")


def load_contract() -> dict[str, Any]:
    with CONTRACT_PATH.open(encoding="utf-8") as handle:
        contract: dict[str, Any] = yaml.safe_load(handle)
    return contract


async def _sign_checkpoints_while_running(services: AppServices) -> None:
    """Sign a checkpoint before the last one is older than its maximum age (SPEC §8: 60 s).

    Ages are real time (the audit log's wall clock), not the service clock, which may stand
    still; a poll signs what would come due before the next poll.
    """
    poll_seconds = CHECKPOINT_POLL_SECONDS
    ahead = timedelta(seconds=poll_seconds)

    def sign_if_due() -> None:
        with write_session(services.database) as session:
            services.audit_log.checkpoint_if_due(session, ahead=ahead)

    while True:
        await asyncio.sleep(poll_seconds)
        try:
            await anyio.to_thread.run_sync(sign_if_due)
        except Exception as exc:  # noqa: BLE001 - keep signing after a transient fault
            _log.error("audit.checkpoint.failed", error=type(exc).__name__)


async def _fold_statistics_while_running(services: AppServices) -> None:
    """Fold new audit entries into the public aggregates' counts, a batch at a time, until
    caught up; then look again every ``STATISTICS_POLL_SECONDS`` (SPEC §17)."""
    while True:
        try:
            while await services.statistics.fold() == FOLD_BATCH:
                await asyncio.sleep(0)  # a long backlog yields to requests between batches
        except Exception as exc:  # noqa: BLE001 - keep folding after a transient fault
            _log.error("statistics.fold.failed", error=type(exc).__name__)
        await asyncio.sleep(STATISTICS_POLL_SECONDS)


def _freeze_startup_heap() -> None:
    """Leave what start-up built (modules, reference data, clients) out of every GC pass.

    The cyclic collector's oldest generation walks every tracked object the process holds;
    with the start-up heap in it, those passes were the worst of the check's latency tail
    (p99 220 ms against 22 ms frozen at 16 connections, bench/run) and a third of its CPU.
    Frozen objects are still freed by reference counting; only cycle detection skips them.
    """
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    wall_clock: Clock | None = None,
    transports: Transports | None = None,
) -> FastAPI:
    """``clock`` is the service clock (default: by VOTER_CLOCK_FIXED); ``wall_clock`` the real
    time that checkpoint signing and the checkpoint age run on (default: the system's)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = open_database(settings.database_url)
        # Workers and replicas never migrate (the migration Job does, as the schema owner;
        # in development `voterctl serve` does before it starts them): they only check.
        require_current_schema(database)
        services = build_services(
            settings,
            database=database,
            clock=clock or clock_from(settings.clock_fixed),
            wall_clock=wall_clock or SystemClock(),
            transports=transports or Transports(),
        )
        app.state.services = services
        signer_task = asyncio.create_task(_sign_checkpoints_while_running(services))
        folder_task = asyncio.create_task(_fold_statistics_while_running(services))
        await services.reference.current()
        _freeze_startup_heap()
        _log.info("service.started", env=settings.env.value, database=database.writer.dialect.name)
        try:
            yield
        finally:
            for task in (signer_task, folder_task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Requests have stopped: commit what the group commit still holds, then close.
            await services.decisions.aclose()
            gc.unfreeze()  # what this app leaves behind is collectable again
            for client in services.upstream_clients:
                await client.aclose()
            database.dispose()

    app = FastAPI(
        title="Voter eligibility service",
        version="1.0.0",
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query_parameters)],
        # The contract and its documentation are served by service/api/docs.py.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # Starlette would answer "/v1/x/" with a 307 to "/v1/x" on the host the caller named,
        # an open redirect for whoever controls the Host header: a trailing slash is a 404.
        redirect_slashes=False,
        # Observability is Prometheus metrics and JSON log lines (service/observability); with
        # FastAPI's OpenTelemetry off it stops looking for a configured provider per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    install_problem_handlers(app)
    eligibility.install(app)
    for module in (
        health,
        precinct_checks,
        day_registrations,
        list_entries,
        absentee_certificates,
        overrides,
        search,
        reference,
        audit,
        account_holds,
        access_log,
        statistics,
    ):
        app.include_router(module.router)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        larger_bodies={list_entries.PRESENCE_LIST_PATH: list_entries.PRESENCE_LIST_BODY_BYTES},
    )
    # The hand-written contract is what the service publishes; tests hold the code to it.
    contract = load_contract()
    app.openapi = lambda: contract  # type: ignore[method-assign]
    install_docs(app)
    return app
