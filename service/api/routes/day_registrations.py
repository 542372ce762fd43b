"""Service B: day registrations (SPEC §6)."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Header, Path, Query
from starlette.responses import Response

from service.api.bodies import JsonBodyRoute
from service.api.deps import (
    DayRegistrationsDep,
    EgovDep,
    LanguageDep,
    OperatorDep,
    ReferenceDep,
    RegistrationReaderDep,
    RequestIdDep,
)
from service.api.presenters import named_precinct, reasons_out, receipt_out, undo_requests_out
from service.api.problems import problem_response
from service.api.schemas import (
    CURSOR_PATTERN,
    ELECTION_ID_PATTERN,
    PRECINCT_ID_PATTERN,
    DayRegistrationList,
    DayRegistrationOut,
    DayRegistrationRequest,
    Instant,
    ReasonRequest,
    UndoApproval,
)
from service.domain.day_registration import RegistrationStatus
from service.domain.model import Precinct
from service.domain.precincts import PrecinctDirectory
from service.domain.undo import UndoStep
from service.errors import ErrorCode, ServiceError
from service.messages import Language
from service.usecases.context import holder_payload
from service.usecases.day_registrations import (
    AnswerFor,
    DayRegistrationService,
    Outcome,
    Registered,
    RegistrationView,
)
from service.usecases.paging import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from service.usecases.ports import Answer, DayRegistrationQuery

router = APIRouter(
    prefix="/v1/day-registrations", tags=["day-registrations"], route_class=JsonBodyRoute
)

RegistrationId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9a-f-]+$")]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=8, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$"),
]


def registration_out(view: RegistrationView, precinct: Precinct | None) -> DayRegistrationOut:
    return DayRegistrationOut(
        id=view.id,
        election_id=view.election_id,
        precinct=named_precinct(view.precinct_id, precinct),
        status=view.status,
        registered_by=view.registered_by,
        registered_at=view.registered_at,
        lapses_at=view.lapses_at,
        cancelled_at=view.cancelled_at,
        cancelled_by=view.cancelled_by,
        cancel_reason=view.cancel_reason,
        cancellation_requests=undo_requests_out(view.cancellation_requests),
        audit=receipt_out(view.receipt),
    )


async def registration_answer(
    view: RegistrationView, registrations: DayRegistrationService
) -> DayRegistrationOut:
    return registration_out(view, await registrations.precinct(view.precinct_id))


def _renderer(directory: PrecinctDirectory, language: Language, request_id: str) -> AnswerFor:
    """How this request's outcome is answered: the status and the body, stored as sent so
    that a retry with the same Idempotency-Key replays them."""

    def render(outcome: Outcome) -> Answer:
        if isinstance(outcome, Registered):
            registration = outcome.registration
            precinct = directory.get(registration.precinct_id)
            body = registration_out(registration, precinct).model_dump_json()
            return Answer(201, body.encode())
        refusal = outcome.refusal
        extensions = {
            "reasons": [
                r.model_dump() for r in reasons_out([c.value for c in refusal.reasons], language)
            ],
            "precinct_id": refusal.precinct_id,
            "registration_id": outcome.registration_id,
            "audit": receipt_out(outcome.receipt).model_dump(),
        }
        if refusal.holder is not None:
            extensions["holder"] = holder_payload(refusal.holder)
        response = problem_response(
            ErrorCode(refusal.code.value),
            request_id=request_id,
            language=language,
            extensions=extensions,
        )
        return Answer(response.status_code, bytes(response.body))

    return render


@router.post("", status_code=201, response_model=DayRegistrationOut)
async def register(
    body: DayRegistrationRequest,
    caller: EgovDep,
    registrations: DayRegistrationsDep,
    reference: ReferenceDep,
    language: LanguageDep,
    request_id: RequestIdDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    if idempotency_key is None:
        raise ServiceError(ErrorCode.IDEMPOTENCY_KEY_REQUIRED)
    answer = await registrations.register(
        raw_iin=body.iin,
        election_id=body.election_id,
        precinct_id=body.precinct_id,
        idempotency_key=idempotency_key,
        caller=caller,
        request_id=request_id,
        answer_for=_renderer(reference.directory, language, request_id),
    )
    structlog.contextvars.bind_contextvars(outcome=str(answer.status))
    media_type = "application/json" if answer.status < 400 else "application/problem+json"
    return Response(answer.body, status_code=answer.status, media_type=media_type)


@router.get("/{registration_id}", response_model=DayRegistrationOut)
async def get_registration(
    registration_id: RegistrationId,
    caller: RegistrationReaderDep,
    registrations: DayRegistrationsDep,
) -> DayRegistrationOut:
    view = await registrations.get(registration_id, caller=caller)
    return await registration_answer(view, registrations)


@router.post("/{registration_id}/cancel", status_code=202, response_model=DayRegistrationOut)
async def cancel_registration(
    registration_id: RegistrationId,
    body: ReasonRequest,
    caller: OperatorDep,
    registrations: DayRegistrationsDep,
    request_id: RequestIdDep,
) -> DayRegistrationOut:
    view = await registrations.request_cancellation(
        registration_id, reason=body.reason, caller=caller, request_id=request_id
    )
    return await registration_answer(view, registrations)


@router.post("/{registration_id}/cancel/approve", response_model=DayRegistrationOut)
async def approve_registration_cancellation(
    registration_id: RegistrationId,
    body: UndoApproval,
    caller: OperatorDep,
    registrations: DayRegistrationsDep,
    request_id: RequestIdDep,
) -> DayRegistrationOut:
    view = await registrations.decide_cancellation(
        registration_id,
        UndoStep.APPROVE,
        reason=None,
        caller=caller,
        request_id=request_id,
        undo_request_id=body.undo_request_id,
    )
    return await registration_answer(view, registrations)


@router.post("/{registration_id}/cancel/refuse", response_model=DayRegistrationOut)
async def refuse_registration_cancellation(
    registration_id: RegistrationId,
    body: ReasonRequest,
    caller: OperatorDep,
    registrations: DayRegistrationsDep,
    request_id: RequestIdDep,
) -> DayRegistrationOut:
    view = await registrations.decide_cancellation(
        registration_id, UndoStep.REFUSE, reason=body.reason, caller=caller, request_id=request_id
    )
    return await registration_answer(view, registrations)


@router.get("", response_model=DayRegistrationList)
async def list_registrations(
    _caller: OperatorDep,
    registrations: DayRegistrationsDep,
    election_id: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=ELECTION_ID_PATTERN)
    ] = None,
    status: RegistrationStatus | None = None,
    precinct_id: Annotated[
        str | None, Query(min_length=1, max_length=32, pattern=PRECINCT_ID_PATTERN)
    ] = None,
    registered_after: Annotated[Instant | None, Query()] = None,
    registered_before: Annotated[Instant | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH, pattern=CURSOR_PATTERN)
    ] = None,
) -> DayRegistrationList:
    query = DayRegistrationQuery(
        election_id=election_id,
        precinct_id=precinct_id,
        registered_after=registered_after,
        registered_before=registered_before,
    )
    page = await registrations.page(query, status=status, limit=limit, cursor=cursor)
    return DayRegistrationList(
        items=[await registration_answer(v, registrations) for v in page.items],
        next=page.next_cursor,
    )
