"""The composition root: every entry point builds the service's parts here, and only here.

The API's lifespan, the operator commands that touch the database, the voter-list compiler,
the demo and the benchmarks all take settings, the database, the checkpoint signer, the audit
log, the upstream clients and the use cases from these functions, so each is built one way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx

from service.adapters.pipeline import Transports, build_upstreams
from service.audit.log import AuditLog
from service.audit.pseudonym import pseudonymise
from service.audit.signing import CheckpointSigner
from service.clock import Clock
from service.config import Settings
from service.datafiles import read_elections, read_precincts
from service.db.audit_reading import AuditReading
from service.db.engine import Database
from service.db.group_commit import DecisionWriter
from service.db.holds import HeldAccountsCache
from service.db.reference import ReferenceCache
from service.db.storage import SqlStorage
from service.db.witnessing import AuditWitnessing
from service.observability.metrics import Metrics
from service.observability.readiness import ReadinessProbe
from service.ratelimit import BulkLookupGuard, RequestLimits
from service.security.tokens import TokenVerifier
from service.usecases.absentee import AbsenteeCertificateService
from service.usecases.access_log import AccessLogService
from service.usecases.account_holds import AccountHoldService
from service.usecases.applications import ApplicationService
from service.usecases.day_registrations import DayRegistrationService
from service.usecases.eligibility import EligibilityService
from service.usecases.list_entries import ListEntryService
from service.usecases.overrides import OverrideService
from service.usecases.reference_import import ImportResult, import_elections, import_precincts
from service.usecases.statistics import StatisticsService


@dataclass(frozen=True)
class AppServices:
    """Everything the lifespan builds once and the handlers share."""

    settings: Settings
    clock: Clock
    database: Database
    verifier: TokenVerifier
    audit_log: AuditLog
    audit_reading: AuditReading
    audit_witnessing: AuditWitnessing
    checkpoint_public_key: str
    reference: ReferenceCache
    eligibility: EligibilityService
    day_registrations: DayRegistrationService
    list_entries: ListEntryService
    access_log: AccessLogService
    statistics: StatisticsService
    certificates: AbsenteeCertificateService
    applications: ApplicationService
    overrides: OverrideService
    account_holds: AccountHoldService
    upstream_clients: tuple[httpx.AsyncClient, ...]
    decisions: DecisionWriter
    metrics: Metrics
    rate_limits: RequestLimits
    readiness: ReadinessProbe


def checkpoint_signer(settings: Settings) -> CheckpointSigner:
    if settings.audit_signing_key is None:
        raise ValueError("VOTER_AUDIT_SIGNING_KEY is not set (an Ed25519 private key in PEM)")
    return CheckpointSigner(settings.audit_signing_key.get_secret_value())


def build_audit_log(
    settings: Settings, signer: CheckpointSigner, *, wall_clock: Clock | None = None
) -> AuditLog:
    """The audit log; ``wall_clock`` (real time, the system's by default) dates checkpoints."""
    return AuditLog(
        signer,
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_max_age=timedelta(seconds=settings.audit_checkpoint_max_age_seconds),
        wall_clock=wall_clock,
        origin=settings.audit_log_origin,
    )


def import_reference(
    kind: str,
    path: Path,
    *,
    database: Database,
    audit_log: AuditLog,
    actor: str,
    now: dt.datetime,
    dry_run: bool = False,
) -> ImportResult:
    """Add a version of ``kind`` ("precincts" or "elections") from a published file, audited;
    or, with ``dry_run``, only plan it."""
    storage = SqlStorage(database, audit_log=audit_log)
    if kind == "precincts":
        return import_precincts(
            storage, read_precincts(path), actor=actor, now=now, dry_run=dry_run
        )
    if kind == "elections":
        return import_elections(
            storage, read_elections(path), actor=actor, now=now, dry_run=dry_run
        )
    raise ValueError(f"no reference data of kind {kind!r}")


def build_services(
    settings: Settings,
    *,
    database: Database,
    clock: Clock,
    wall_clock: Clock,
    transports: Transports,
) -> AppServices:
    """``clock`` is the service clock, the legal time of decisions, which may stand still;
    ``wall_clock`` real time, on which checkpoints are signed and their age is measured."""
    signer = checkpoint_signer(settings)
    audit_log = build_audit_log(settings, signer, wall_clock=wall_clock)
    reference_cache = ReferenceCache(database)
    # Per lifespan, not global: many apps run in one test process (service.observability).
    metrics = Metrics()
    metrics.watch_audit_log(
        database=database,
        reader=audit_log,
        wall_clock=wall_clock,
        witness_quorum=settings.witness_quorum,
    )
    upstreams = build_upstreams(settings, transports=transports, observer=metrics)
    metrics.watch_upstream_guards(upstreams.guards)
    storage = SqlStorage(database, audit_log=audit_log, observer=metrics)
    decisions = DecisionWriter(
        database=database, audit_log=audit_log, clock=clock, observer=metrics
    )
    voter_subject = partial(pseudonymise, key=settings.audit_hmac_key.get_secret_value().encode())
    limits = settings.role_limits()
    account_holds = AccountHoldService(
        storage=storage,
        held=HeldAccountsCache(database, refresh_seconds=settings.account_hold_refresh_seconds),
        clock=clock,
    )
    # One guard for every way an account can name voters: checks and look-ups by IIN alike.
    lookups = BulkLookupGuard(table=limits, holds=account_holds, observer=metrics)
    eligibility_service = EligibilityService(
        registry=upstreams.persons,
        addresses=upstreams.registrations,
        reference=reference_cache,
        storage=storage,
        decisions=decisions,
        pseudonymise=voter_subject,
        clock=clock,
        counter=metrics,
        lookups=lookups,
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
        audit_reading=AuditReading(database, reader=audit_log),
        audit_witnessing=AuditWitnessing(
            database, audit_log=audit_log, clock=clock, quorum=settings.witness_quorum
        ),
        checkpoint_public_key=signer.public_key_pem,
        reference=reference_cache,
        eligibility=eligibility_service,
        day_registrations=DayRegistrationService(
            eligibility=eligibility_service,
            storage=storage,
            reference=reference_cache,
            pseudonymise=voter_subject,
            clock=clock,
            lookups=lookups,
        ),
        list_entries=ListEntryService(
            eligibility=eligibility_service,
            storage=storage,
            reference=reference_cache,
            pseudonymise=voter_subject,
            clock=clock,
            lookups=lookups,
        ),
        certificates=AbsenteeCertificateService(
            eligibility=eligibility_service,
            storage=storage,
            reference=reference_cache,
            clock=clock,
        ),
        applications=ApplicationService(
            eligibility=eligibility_service,
            storage=storage,
            reference=reference_cache,
            clock=clock,
        ),
        access_log=AccessLogService(
            storage=storage, pseudonymise=voter_subject, clock=clock, lookups=lookups
        ),
        # Unobserved: folding appends nothing to the chain, and the append-duration metric
        # times the transactions that do.
        statistics=StatisticsService(
            storage=SqlStorage(database, audit_log=audit_log),
            reference=reference_cache,
            clock=clock,
        ),
        overrides=OverrideService(
            storage=storage,
            reference=reference_cache,
            pseudonymise=voter_subject,
            clock=clock,
            lookups=lookups,
        ),
        account_holds=account_holds,
        upstream_clients=tuple(upstreams.clients.values()),
        decisions=decisions,
        metrics=metrics,
        rate_limits=RequestLimits(table=limits, observer=metrics),
        readiness=ReadinessProbe(database=database, upstreams=upstreams.clients),
    )
