"""POST /v1/eligibility/check: the decision (SPEC §11)."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Response

from service.api.deps import DeciderDep, LanguageDep, RequestIdDep, ServicesDep
from service.api.presenters import precinct_ref, reasons_out, receipt_out
from service.api.schemas import DecisionOut, EligibilityCheckRequest, NextStepOut
from service.domain.precincts import PrecinctDirectory
from service.messages import Language, message
from service.usecases.eligibility import RecordedDecision

router = APIRouter(prefix="/v1/eligibility", tags=["eligibility"])


def decision_out(
    recorded: RecordedDecision, *, directory: PrecinctDirectory, language: Language
) -> DecisionOut:
    decision = recorded.decision
    return DecisionOut(
        decision_id=recorded.decision_id,
        election_id=recorded.election.id,
        outcome=decision.outcome.value,
        reasons=reasons_out([r.value for r in decision.reasons], language),
        precinct=precinct_ref(directory, decision.precinct_id),
        basis=decision.basis.value if decision.basis else None,
        next_steps=[
            NextStepOut(
                code=step.code.value,
                message=message(step.code.value, language),
                precinct_ids=list(step.precinct_ids),
            )
            for step in decision.next_steps
        ],
        ruleset=decision.ruleset,
        registry_data_as_of=decision.registry_data_as_of,
        decided_at=recorded.decided_at,
        override_id=decision.override_id,
        audit=receipt_out(recorded.receipt),
    )


@router.post("/check", response_model=DecisionOut)
async def check_eligibility(
    body: EligibilityCheckRequest,
    caller: DeciderDep,
    services: ServicesDep,
    language: LanguageDep,
    request_id: RequestIdDep,
) -> Response:
    recorded = await services.eligibility.check(
        raw_iin=body.iin, election_id=body.election_id, caller=caller, request_id=request_id
    )
    structlog.contextvars.bind_contextvars(outcome=recorded.decision.outcome.value)
    reference = await services.reference.current()
    decision = decision_out(recorded, directory=reference.directory, language=language)
    # Already a validated DecisionOut: serialised once, not validated again by FastAPI.
    return Response(decision.model_dump_json(), media_type="application/json")
