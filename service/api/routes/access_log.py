"""POST /v1/me/access-log: a citizen's access log (SPEC §17), asked for by the e-government
front end that authenticated the citizen. POST, so the IIN travels in the body, never in a
URL."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.bodies import JsonBodyRoute
from service.api.deps import AccessLogDep, EgovDep, LanguageDep, RequestIdDep
from service.api.presenters import receipt_out
from service.api.schemas import (
    AccessLogOut,
    AccessLogRequest,
    AccessOut,
    OrganisationOut,
    PurposeOut,
)
from service.domain.access_log import Access
from service.messages import Language, message
from service.organisations import organisation_name

router = APIRouter(tags=["access-log"], route_class=JsonBodyRoute)


def _access_out(access: Access, language: Language) -> AccessOut:
    organisation = access.organisation
    return AccessOut(
        at=access.at,
        kind=access.kind,
        action=access.action.value,
        purpose=PurposeOut(
            code=access.purpose.value, message=message(access.purpose.value, language)
        ),
        roles=list(access.roles),
        organisation=OrganisationOut(
            id=organisation, name=organisation_name(organisation, language)
        )
        if organisation is not None
        else None,
        outcome=access.outcome,
    )


@router.post("/v1/me/access-log", response_model=AccessLogOut)
async def read_access_log(
    body: AccessLogRequest,
    caller: EgovDep,
    access_log: AccessLogDep,
    language: LanguageDep,
    request_id: RequestIdDep,
) -> AccessLogOut:
    page = await access_log.read(
        body.iin, before=body.before, limit=body.limit, caller=caller, request_id=request_id
    )
    return AccessLogOut(
        accesses=[_access_out(access, language) for access in page.accesses],
        next_before=page.next_before,
        audit=receipt_out(page.receipt),
    )
