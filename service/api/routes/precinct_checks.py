"""POST /v1/precinct-checks: Service A for precinct commission members (SPEC §5)."""

from __future__ import annotations

import structlog
from fastapi import APIRouter

from service.api.bodies import JsonBodyRoute
from service.api.deps import (
    CommissionDep,
    EligibilityDep,
    LanguageDep,
    ReferenceDep,
    RequestIdDep,
)
from service.api.presenters import precinct_ref, reasons_out, receipt_out
from service.api.schemas import PrecinctCheckOut, PrecinctCheckRequest

router = APIRouter(prefix="/v1", tags=["precinct-checks"], route_class=JsonBodyRoute)


@router.post("/precinct-checks", response_model=PrecinctCheckOut)
async def check_precinct(
    body: PrecinctCheckRequest,
    caller: CommissionDep,
    eligibility: EligibilityDep,
    reference: ReferenceDep,
    language: LanguageDep,
    request_id: RequestIdDep,
) -> PrecinctCheckOut:
    result = await eligibility.check_precinct(
        raw_iin=body.iin,
        election_id=body.election_id,
        precinct_id=body.precinct_id,
        caller=caller,
        request_id=request_id,
    )
    structlog.contextvars.bind_contextvars(outcome=result.decision.outcome.value)
    decision = result.decision
    return PrecinctCheckOut(
        check_id=result.check_id,
        election_id=result.election.id,
        precinct_id=result.precinct_id,
        included=result.included,
        outcome=decision.outcome.value,
        reasons=reasons_out(result.reasons, language),
        belongs_to=precinct_ref(reference.directory, decision.precinct_id),
        basis=decision.basis.value if decision.basis else None,
        decided_at=result.decided_at,
        audit=receipt_out(result.receipt),
    )
