"""POST /v1/eligibility/check: the decision (SPEC §11)."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Response

from service.api.deps import DeciderDep, LanguageDep, RequestIdDep, ServicesDep
from service.api.presenters import precinct_ref, reasons_out, receipt_out
from service.api.schemas import DecisionOut, EligibilityCheckRequest, NextStepOut
from service.bootstrap import AppServices
from service.domain.caller import Caller
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


async def checked_decision_json(
    services: AppServices,
    body: EligibilityCheckRequest,
    *,
    caller: Caller,
    language: Language,
    request_id: str,
) -> bytes:
    """The check and its answer, serialised: shared by this route and the fast path."""
    recorded = await services.eligibility.check(
        raw_iin=body.iin, election_id=body.election_id, caller=caller, request_id=request_id
    )
    structlog.contextvars.bind_contextvars(outcome=recorded.decision.outcome.value)
    reference = await services.reference.current()
    decision = decision_out(recorded, directory=reference.directory, language=language)
    # Already a validated DecisionOut: serialised once, not validated again by FastAPI.
    return decision.model_dump_json().encode()


@router.post("/check", response_model=DecisionOut)
async def check_eligibility(
    body: EligibilityCheckRequest,
    caller: DeciderDep,
    services: ServicesDep,
    language: LanguageDep,
    request_id: RequestIdDep,
) -> Response:
    # Requests of the usual shape are answered by service/api/fast_check.py before they get
    # here, with the same function; this route serves the rest and defines the contract.
    content = await checked_decision_json(
        services, body, caller=caller, language=language, request_id=request_id
    )
    return Response(content, media_type="application/json")
