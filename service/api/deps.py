"""Request dependencies, as Annotated aliases named for what they give."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import structlog
from fastapi import Depends, Header, Request
from fastapi.dependencies.models import Dependant

from service.bootstrap import AppServices
from service.db.audit_reading import AuditReading
from service.db.witnessing import AuditWitnessing
from service.domain.caller import Caller, Role
from service.domain.iin_text import holds_iin_shaped
from service.errors import Forbidden, InvalidInput, Unauthenticated
from service.logs import get_logger
from service.messages import Language, negotiate
from service.observability.metrics import Metrics
from service.observability.readiness import ReadinessProbe
from service.security.tokens import REASONS, TokenRejected
from service.usecases.absentee import AbsenteeCertificateService
from service.usecases.access_log import AccessLogService
from service.usecases.account_holds import AccountHoldService
from service.usecases.applications import ApplicationService
from service.usecases.day_registrations import DayRegistrationService
from service.usecases.eligibility import EligibilityService
from service.usecases.list_entries import ListEntryService
from service.usecases.overrides import OverrideService
from service.usecases.ports import ReferenceData
from service.usecases.statistics import StatisticsService

_security_log = get_logger("service.security")


# The dependencies are coroutines even where nothing awaits: FastAPI runs a plain function in
# its thread pool, a thread hop per dependency per request for what is a dictionary lookup.
async def _services(request: Request) -> AppServices:
    services: AppServices = request.app.state.services
    return services


ServicesDep = Annotated[AppServices, Depends(_services)]


def _part(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency giving one part of the services, so a route names only what it uses."""

    async def part(request: Request) -> Any:
        return getattr(request.app.state.services, name)

    return part


async def _reference_data(request: Request) -> ReferenceData:
    services: AppServices = request.app.state.services
    return await services.reference.current()


EligibilityDep = Annotated[EligibilityService, Depends(_part("eligibility"))]
DayRegistrationsDep = Annotated[DayRegistrationService, Depends(_part("day_registrations"))]
ListEntriesDep = Annotated[ListEntryService, Depends(_part("list_entries"))]
AccessLogDep = Annotated[AccessLogService, Depends(_part("access_log"))]
StatisticsDep = Annotated[StatisticsService, Depends(_part("statistics"))]
CertificatesDep = Annotated[AbsenteeCertificateService, Depends(_part("certificates"))]
ApplicationsDep = Annotated[ApplicationService, Depends(_part("applications"))]
OverridesDep = Annotated[OverrideService, Depends(_part("overrides"))]
AccountHoldsDep = Annotated[AccountHoldService, Depends(_part("account_holds"))]
AuditReadingDep = Annotated[AuditReading, Depends(_part("audit_reading"))]
AuditWitnessingDep = Annotated[AuditWitnessing, Depends(_part("audit_witnessing"))]
ReadinessDep = Annotated[ReadinessProbe, Depends(_part("readiness"))]
MetricsDep = Annotated[Metrics, Depends(_part("metrics"))]
CheckpointKeyDep = Annotated[str, Depends(_part("checkpoint_public_key"))]
# The reference data in force when the request is handled (precincts, elections).
ReferenceDep = Annotated[ReferenceData, Depends(_reference_data)]


# Declared so that the contract's length bounds on these headers are enforced (422), not only
# written down; the values themselves are read where they are used.
AcceptLanguageHeader = Annotated[str | None, Header(alias="Accept-Language", max_length=256)]
RequestIdHeader = Annotated[str | None, Header(alias="X-Request-ID", max_length=128)]


async def _language(request: Request, _declared: AcceptLanguageHeader = None) -> Language:
    return negotiate(request.headers.get("accept-language"))


LanguageDep = Annotated[Language, Depends(_language)]


async def _request_id(request: Request, _declared: RequestIdHeader = None) -> str:
    # The middleware chose the id (the caller's, when acceptable) before any handler ran.
    return str(getattr(request.state, "request_id", "-"))


RequestIdDep = Annotated[str, Depends(_request_id)]

_BEARER_PREFIX = "bearer "
# Why a 401 (the problem's ``reason``): the token verifier's reasons, no bearer token at all,
# or a subject that holds an IIN. None carries the token or a claim.
NO_BEARER_TOKEN = Unauthenticated.NO_BEARER_TOKEN
SUBJECT_HOLDS_IIN = Unauthenticated.SUBJECT_HOLDS_IIN
UNAUTHENTICATED_REASONS = REASONS | {NO_BEARER_TOKEN, SUBJECT_HOLDS_IIN}


def authenticate(services: AppServices, authorization: str) -> Caller:
    """The caller an ``Authorization`` header names, admitted by the rate limiter.

    Call it from a coroutine: the caller's subject is bound to the request's log lines.
    """
    if not authorization.lower().startswith(_BEARER_PREFIX):
        _security_log.warning("security.token.rejected", reason=NO_BEARER_TOKEN)
        raise Unauthenticated(reason=NO_BEARER_TOKEN)
    token = authorization[len(_BEARER_PREFIX) :].strip()
    try:
        caller = services.verifier.verify(token, now=services.clock.now())
    except TokenRejected as exc:
        _security_log.warning("security.token.rejected", reason=exc.reason)
        raise Unauthenticated(reason=exc.reason) from None
    if holds_iin_shaped(caller.subject):
        # An account named by a national id would write it into every audit entry it causes.
        _security_log.warning("security.token.rejected", reason=SUBJECT_HOLDS_IIN)
        raise Unauthenticated(reason=SUBJECT_HOLDS_IIN)
    structlog.contextvars.bind_contextvars(sub=caller.subject)
    # Every authenticated route comes through here, and only those: health and metrics don't.
    services.rate_limits.admit(caller)
    return caller


def ensure_role(caller: Caller, allowed: frozenset[Role]) -> Caller:
    if caller.roles.isdisjoint(allowed):
        _security_log.warning(
            "security.role.refused", sub=caller.subject, required=sorted(r.value for r in allowed)
        )
        raise Forbidden
    return caller


async def _authenticate(request: Request, services: ServicesDep) -> Caller:
    # async on purpose: contextvars bound here must reach the canonical request line.
    return authenticate(services, request.headers.get("authorization", ""))


AuthenticatedDep = Annotated[Caller, Depends(_authenticate)]


def require_role(*allowed: Role) -> Callable[[Caller], Awaitable[Caller]]:
    roles = frozenset(allowed)

    async def _check(caller: AuthenticatedDep) -> Caller:
        return ensure_role(caller, roles)

    return _check


DECIDER_ROLES = frozenset({Role.EGOV, Role.COMMISSION, Role.OPERATOR})

AnyRoleDep = Annotated[Caller, Depends(require_role(*Role))]
DeciderDep = Annotated[Caller, Depends(require_role(*DECIDER_ROLES))]
AuditorDep = Annotated[Caller, Depends(require_role(Role.AUDITOR))]
# Observers' cosigners read checkpoints and proofs as auditors do (SPEC §17).
LogCheckerDep = Annotated[Caller, Depends(require_role(Role.AUDITOR, Role.WITNESS))]
WitnessDep = Annotated[Caller, Depends(require_role(Role.WITNESS))]
CommissionDep = Annotated[Caller, Depends(require_role(Role.COMMISSION))]
EgovDep = Annotated[Caller, Depends(require_role(Role.EGOV))]
OperatorDep = Annotated[Caller, Depends(require_role(Role.OPERATOR))]
RegistrationReaderDep = Annotated[Caller, Depends(require_role(Role.EGOV, Role.OPERATOR))]


def _query_parameter_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_parameter_names(sub)
    return names


async def reject_unknown_query_parameters(request: Request) -> None:
    """Unknown request fields are rejected (SPEC §11), query parameters included."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    known = _query_parameter_names(dependant)
    if any(name not in known for name in request.query_params):
        # The names are the caller's own text and could be anything: never echoed back.
        raise InvalidInput(errors=[{"field": "query", "type": "unknown_parameter"}])
    names = [name for name, _ in request.query_params.multi_items()]
    if len(names) != len(set(names)):
        # No operation takes a list in the query: a repeated parameter would silently keep
        # its last value, so it is refused like any other malformed parameter.
        raise InvalidInput(errors=[{"field": "query", "type": "repeated_parameter"}])
