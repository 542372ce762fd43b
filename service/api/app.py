"""The ASGI application: ``create_app(settings)`` builds it; nothing is built at import."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import yaml
from fastapi import Depends, FastAPI

from service.adapters import addresses, registry
from service.adapters.addresses import AddressClient
from service.adapters.batch import BatchAddressClient, BatchRegistryClient
from service.adapters.coalesce import CoalescingAddresses, CoalescingRegistry
from service.adapters.registry import RegistryClient
from service.adapters.resilience import CircuitBreaker, RetryPolicy, UpstreamGuard
from service.adapters.upstream import build_upstream_client
from service.api.deps import AppServices, reject_unknown_query_parameters
from service.api.fast_check import CHECK_PATH, EligibilityFastPath
from service.api.middleware import RequestContextMiddleware
from service.api.problems import install_problem_handlers
from service.api.routes import (
    audit,
    day_registrations,
    eligibility,
    health,
    overrides,
    precinct_checks,
    reference,
)
from service.audit.log import AuditLog
from service.audit.signing import CheckpointSigner
from service.clock import Clock, clock_from
from service.config import Settings
from service.db.engine import Database, open_database, write_session
from service.db.migrations import require_current_schema
from service.logs import get_logger
from service.observability.metrics import Metrics
from service.observability.readiness import ReadinessProbe
from service.observability.upstreams import ObservedAddresses, ObservedRegistry
from service.ratelimit import BulkLookupWatch, RequestLimits
from service.reference import ReferenceCache
from service.security.tokens import TokenVerifier
from service.usecases.day_registrations import DayRegistrationService
from service.usecases.eligibility import EligibilityService, PersonSource, RegistrationSource
from service.usecases.overrides import OverrideService
from service.usecases.recording import Recorder

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "contracts" / "openapi.yaml"
CHECKPOINT_POLL_SECONDS = 5.0

_log = get_logger("service.app")


@dataclass(frozen=True)
class Transports:
    """Injected upstream transports (tests, benchmarks); None means real HTTP."""

    registry: httpx.AsyncBaseTransport | None = None
    addresses: httpx.AsyncBaseTransport | None = None


def load_contract() -> dict[str, Any]:
    with CONTRACT_PATH.open(encoding="utf-8") as handle:
        contract: dict[str, Any] = yaml.safe_load(handle)
    return contract


def checkpoint_signer(settings: Settings) -> CheckpointSigner:
    if settings.audit_signing_key is None:
        raise ValueError("VOTER_AUDIT_SIGNING_KEY is not set (an Ed25519 private key in PEM)")
    return CheckpointSigner(settings.audit_signing_key.get_secret_value())


def build_audit_log(settings: Settings, signer: CheckpointSigner) -> AuditLog:
    return AuditLog(
        signer,
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_max_age=timedelta(seconds=settings.audit_checkpoint_max_age_seconds),
    )


def upstream_guard(upstream: str, settings: Settings) -> UpstreamGuard:
    """Retries, circuit breaker and bulkhead for one upstream's lookups."""
    return UpstreamGuard(
        upstream,
        breaker=CircuitBreaker(
            upstream,
            failure_threshold=settings.upstream_breaker_failures,
            reset_seconds=settings.upstream_breaker_reset_seconds,
        ),
        max_concurrent_calls=settings.upstream_max_connections,
        retry=RetryPolicy(attempts=settings.upstream_retry_attempts),
    )


def _upstream_sources(
    settings: Settings,
    *,
    registry_http: httpx.AsyncClient,
    addresses_http: httpx.AsyncClient,
    registry_guard: UpstreamGuard,
    addresses_guard: UpstreamGuard,
) -> tuple[PersonSource, RegistrationSource]:
    """The two upstreams as the eligibility check sees them: batched, or one by one."""
    deadline = settings.upstream_deadline_seconds
    if settings.upstream_batch_lookups:
        return (
            CoalescingRegistry(
                BatchRegistryClient(registry_http, deadline_seconds=deadline, guard=registry_guard),
                deadline_seconds=deadline,
                max_in_flight=settings.upstream_batch_in_flight,
            ),
            CoalescingAddresses(
                BatchAddressClient(
                    addresses_http, deadline_seconds=deadline, guard=addresses_guard
                ),
                deadline_seconds=deadline,
                max_in_flight=settings.upstream_batch_in_flight,
            ),
        )
    return (
        RegistryClient(registry_http, deadline_seconds=deadline, guard=registry_guard),
        AddressClient(addresses_http, deadline_seconds=deadline, guard=addresses_guard),
    )


def _build_services(
    settings: Settings, *, database: Database, clock: Clock, transports: Transports
) -> AppServices:
    signer = checkpoint_signer(settings)
    audit_log = build_audit_log(settings, signer)
    timeout = httpx.Timeout(settings.upstream_deadline_seconds)
    registry_http = build_upstream_client(
        settings.registry_url,
        timeout=timeout,
        max_connections=settings.upstream_max_connections,
        transport=transports.registry,
    )
    addresses_http = build_upstream_client(
        settings.addresses_url,
        timeout=timeout,
        max_connections=settings.upstream_max_connections,
        transport=transports.addresses,
    )
    reference_cache = ReferenceCache(database)
    registry_guard = upstream_guard(registry.UPSTREAM, settings)
    addresses_guard = upstream_guard(addresses.UPSTREAM, settings)
    # Per lifespan, not global: many apps run in one test process (service.observability).
    metrics = Metrics()
    metrics.watch_audit_log(database=database, reader=audit_log, clock=clock)
    metrics.watch_upstream_guards((registry_guard, addresses_guard))
    recorder = Recorder(
        database=database,
        audit_log=audit_log,
        hmac_key=settings.audit_hmac_key.get_secret_value().encode(),
        clock=clock,
        observer=metrics,
    )
    person_source, registration_source = _upstream_sources(
        settings,
        registry_http=registry_http,
        addresses_http=addresses_http,
        registry_guard=registry_guard,
        addresses_guard=addresses_guard,
    )
    eligibility_service = EligibilityService(
        registry=ObservedRegistry(person_source, observer=metrics),
        addresses=ObservedAddresses(registration_source, observer=metrics),
        reference=reference_cache,
        recorder=recorder,
        clock=clock,
        counter=metrics,
        lookups=BulkLookupWatch(threshold=settings.bulk_lookup_threshold, observer=metrics),
    )
    return AppServices(
        settings=settings,
        clock=clock,
        database=database,
        verifier=TokenVerifier(
            public_keys=settings.jwt_public_keys,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
        ),
        audit_log=audit_log,
        checkpoint_public_key=signer.public_key_pem,
        reference=reference_cache,
        eligibility=eligibility_service,
        day_registrations=DayRegistrationService(
            eligibility=eligibility_service,
            recorder=recorder,
            reference=reference_cache,
            clock=clock,
        ),
        overrides=OverrideService(recorder=recorder, reference=reference_cache, clock=clock),
        upstream_clients=(registry_http, addresses_http),
        recorder=recorder,
        metrics=metrics,
        rate_limits=RequestLimits(
            per_subject_per_minute=settings.rate_limit_per_minute,
            per_role_per_minute=settings.rate_limit_per_role,
            observer=metrics,
        ),
        readiness=ReadinessProbe(
            database=database, upstreams={"registry": registry_http, "addresses": addresses_http}
        ),
    )


async def _sign_checkpoints_while_running(services: AppServices) -> None:
    """Sign a checkpoint when the last one is older than its maximum age (SPEC §8: 60 s)."""

    def sign_if_due() -> None:
        with write_session(services.database) as session:
            services.audit_log.checkpoint_if_due(session, now=services.clock.now())

    while True:
        await asyncio.sleep(CHECKPOINT_POLL_SECONDS)
        try:
            await anyio.to_thread.run_sync(sign_if_due)
        except Exception as exc:  # noqa: BLE001 - keep signing after a transient fault
            _log.error("audit.checkpoint.failed", error=type(exc).__name__)


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
    settings: Settings, *, clock: Clock | None = None, transports: Transports | None = None
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = open_database(settings.database_url)
        # Workers and replicas never migrate (the migration Job does, as the schema owner;
        # in development `voterctl serve` does before it starts them): they only check.
        require_current_schema(database)
        services = _build_services(
            settings,
            database=database,
            clock=clock or clock_from(settings.clock_fixed),
            transports=transports or Transports(),
        )
        app.state.services = services
        signer_task = asyncio.create_task(_sign_checkpoints_while_running(services))
        await services.reference.current()
        _freeze_startup_heap()
        _log.info("service.started", env=settings.env.value, database=database.writer.dialect.name)
        try:
            yield
        finally:
            signer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await signer_task
            # Requests have stopped: commit what the group commit still holds, then close.
            await services.recorder.aclose()
            gc.unfreeze()  # what this app leaves behind is collectable again
            for client in services.upstream_clients:
                await client.aclose()
            database.dispose()

    app = FastAPI(
        title="Voter eligibility service",
        version="1.0.0",
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query_parameters)],
        docs_url=None,
        redoc_url=None,
        # Observability is Prometheus metrics and JSON log lines (service/observability); with
        # FastAPI's OpenTelemetry off it stops looking for a configured provider per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    install_problem_handlers(app)
    for module in (
        health,
        eligibility,
        precinct_checks,
        day_registrations,
        overrides,
        reference,
        audit,
    ):
        app.include_router(module.router)
    # Added first, so it runs inside the request context (the last added is outermost).
    if settings.check_fast_path:
        (check_route,) = (
            r for r in eligibility.router.routes if getattr(r, "path", "") == CHECK_PATH
        )
        app.add_middleware(EligibilityFastPath, route=check_route)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    # The hand-written contract is what the service publishes; tests hold the code to it.
    contract = load_contract()
    app.openapi = lambda: contract  # type: ignore[method-assign]
    return app
