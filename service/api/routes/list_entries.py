"""The ways onto a list of SPEC §15 with records of their own: presence lists of special
precincts, applications, and the entries they make, listed page by page (one voter's are
found by IIN under ``/v1/search/``)."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Path, Query

from service.api.bodies import JsonBodyRoute
from service.api.deps import (
    ApplicationsDep,
    LanguageDep,
    ListEntriesDep,
    OperatorDep,
    ReferenceDep,
    RequestIdDep,
)
from service.api.presenters import named_precinct, reasons_out, receipt_out, undo_requests_out
from service.api.schemas import (
    CURSOR_PATTERN,
    ELECTION_ID_PATTERN,
    PRECINCT_ID_PATTERN,
    Instant,
    ListEntryList,
    ListEntryOut,
    ListPlaceHolderOut,
    MissionApplicationRequest,
    PlaceOfStayApplicationRequest,
    PresenceListOut,
    PresenceListRequest,
    PresenceListResult,
    ReasonRequest,
    UndoApproval,
)
from service.domain.model import ListEntryKind, ListEntryStatus
from service.domain.precincts import PrecinctDirectory
from service.domain.undo import UndoStep
from service.errors import ErrorCode
from service.messages import Language
from service.usecases.applications import StayAddress
from service.usecases.list_entries import EntryRefused, ListEntryView, PresenceImport
from service.usecases.paging import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from service.usecases.ports import ListEntryQuery

router = APIRouter(tags=["list-entries"], route_class=JsonBodyRoute)

EntryId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9a-f-]+$")]
# The presence list route takes bodies up to this many bytes: every body the contract
# accepts fits, 2000 items of 32 code points each written as JSON escapes (up to 12 bytes a
# code point outside the BMP, as a surrogate pair), their quotes and the other fields.
PRESENCE_LIST_PATH = "/v1/presence-lists"
PRESENCE_LIST_BODY_BYTES = 1_048_576


def _import_out(done: PresenceImport, directory: PrecinctDirectory) -> PresenceListOut:
    return PresenceListOut(
        import_id=done.import_id,
        election_id=done.election_id,
        precinct=named_precinct(done.precinct_id, directory.get(done.precinct_id)),
        added=len(done.answers) - done.refused,
        refused=done.refused,
        results=[
            PresenceListResult(
                index=a.index,
                entry_id=a.entry_id,
                code=a.code.value if a.code else None,
                holder=ListPlaceHolderOut(kind=a.holder.holder_kind.value, id=a.holder.holder_id)
                if a.holder
                else None,
                audit=receipt_out(a.receipt) if a.receipt else None,
            )
            for a in done.answers
        ],
    )


def entry_out(view: ListEntryView, directory: PrecinctDirectory) -> ListEntryOut:
    return ListEntryOut(
        id=view.id,
        election_id=view.election_id,
        kind=view.kind.value,
        precinct=named_precinct(view.precinct_id, directory.get(view.precinct_id)),
        document_ref=view.document_ref,
        status="active" if view.status == "active" else "cancelled",
        created_by=view.created_by,
        created_at=view.created_at,
        cancelled_at=view.cancelled_at,
        cancelled_by=view.cancelled_by,
        cancel_reason=view.cancel_reason,
        cancellation_requests=undo_requests_out(view.cancellation_requests),
        audit=receipt_out(view.receipt),
    )


@router.post(PRESENCE_LIST_PATH, response_model=PresenceListOut)
async def import_presence_list(
    body: PresenceListRequest,
    caller: OperatorDep,
    entries: ListEntriesDep,
    reference: ReferenceDep,
    request_id: RequestIdDep,
) -> PresenceListOut:
    done = await entries.import_presence_list(
        election_id=body.election_id,
        precinct_id=body.precinct_id,
        raw_iins=body.iins,
        document_ref=body.document_ref,
        caller=caller,
        request_id=request_id,
    )
    structlog.contextvars.bind_contextvars(
        outcome=f"added={len(done.answers) - done.refused},refused={done.refused}"
    )
    return _import_out(done, reference.directory)


@router.post("/v1/place-of-stay-applications", status_code=201, response_model=ListEntryOut)
async def record_place_of_stay_application(
    body: PlaceOfStayApplicationRequest,
    caller: OperatorDep,
    applications: ApplicationsDep,
    reference: ReferenceDep,
    language: LanguageDep,
    request_id: RequestIdDep,
) -> ListEntryOut:
    stay = body.stay_address
    try:
        view = await applications.place_of_stay(
            election_id=body.election_id,
            raw_iin=body.iin,
            stay=StayAddress(rca=stay.rca, kato=stay.kato, street=stay.street, house=stay.house),
            document_ref=body.document_ref,
            caller=caller,
            request_id=request_id,
        )
    except EntryRefused as refusal:
        localise_reasons(refusal, language)
        raise
    structlog.contextvars.bind_contextvars(outcome="added")
    return entry_out(view, reference.directory)


@router.post("/v1/mission-applications", status_code=201, response_model=ListEntryOut)
async def record_mission_application(
    body: MissionApplicationRequest,
    caller: OperatorDep,
    applications: ApplicationsDep,
    reference: ReferenceDep,
    language: LanguageDep,
    request_id: RequestIdDep,
) -> ListEntryOut:
    try:
        view = await applications.at_mission(
            election_id=body.election_id,
            raw_iin=body.iin,
            precinct_id=body.precinct_id,
            document_ref=body.document_ref,
            caller=caller,
            request_id=request_id,
        )
    except EntryRefused as refusal:
        localise_reasons(refusal, language)
        raise
    structlog.contextvars.bind_contextvars(outcome="added")
    return entry_out(view, reference.directory)


def localise_reasons(refusal: EntryRefused, language: Language) -> None:
    """A ``NOT_ELIGIBLE`` refusal's reason codes, with their messages in ``language``."""
    structlog.contextvars.bind_contextvars(outcome=refusal.code.value)
    if refusal.code is ErrorCode.NOT_ELIGIBLE:
        codes = refusal.extensions.get("reasons", [])
        refusal.extensions["reasons"] = [r.model_dump() for r in reasons_out(codes, language)]


@router.get("/v1/list-entries", response_model=ListEntryList)
async def list_entries(
    _caller: OperatorDep,
    entries: ListEntriesDep,
    reference: ReferenceDep,
    election_id: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=ELECTION_ID_PATTERN)
    ] = None,
    kind: ListEntryKind | None = None,
    status: ListEntryStatus | None = None,
    precinct_id: Annotated[
        str | None, Query(min_length=1, max_length=32, pattern=PRECINCT_ID_PATTERN)
    ] = None,
    created_after: Annotated[Instant | None, Query()] = None,
    created_before: Annotated[Instant | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH, pattern=CURSOR_PATTERN)
    ] = None,
) -> ListEntryList:
    query = ListEntryQuery(
        election_id=election_id,
        kind=kind,
        precinct_id=precinct_id,
        created_after=created_after,
        created_before=created_before,
    )
    page = await entries.page(query, status=status, limit=limit, cursor=cursor)
    return ListEntryList(
        items=[entry_out(v, reference.directory) for v in page.items], next=page.next_cursor
    )


@router.get("/v1/list-entries/{entry_id}", response_model=ListEntryOut)
async def get_entry(
    entry_id: EntryId, _caller: OperatorDep, entries: ListEntriesDep, reference: ReferenceDep
) -> ListEntryOut:
    return entry_out(await entries.get(entry_id), reference.directory)


@router.post("/v1/list-entries/{entry_id}/cancel", status_code=202, response_model=ListEntryOut)
async def cancel_entry(
    entry_id: EntryId,
    body: ReasonRequest,
    caller: OperatorDep,
    entries: ListEntriesDep,
    reference: ReferenceDep,
    request_id: RequestIdDep,
) -> ListEntryOut:
    view = await entries.request_cancellation(
        entry_id, reason=body.reason, caller=caller, request_id=request_id
    )
    return entry_out(view, reference.directory)


@router.post("/v1/list-entries/{entry_id}/cancel/approve", response_model=ListEntryOut)
async def approve_entry_cancellation(
    entry_id: EntryId,
    body: UndoApproval,
    caller: OperatorDep,
    entries: ListEntriesDep,
    reference: ReferenceDep,
    request_id: RequestIdDep,
) -> ListEntryOut:
    view = await entries.decide_cancellation(
        entry_id,
        UndoStep.APPROVE,
        reason=None,
        caller=caller,
        request_id=request_id,
        undo_request_id=body.undo_request_id,
    )
    return entry_out(view, reference.directory)


@router.post("/v1/list-entries/{entry_id}/cancel/refuse", response_model=ListEntryOut)
async def refuse_entry_cancellation(
    entry_id: EntryId,
    body: ReasonRequest,
    caller: OperatorDep,
    entries: ListEntriesDep,
    reference: ReferenceDep,
    request_id: RequestIdDep,
) -> ListEntryOut:
    view = await entries.decide_cancellation(
        entry_id, UndoStep.REFUSE, reason=body.reason, caller=caller, request_id=request_id
    )
    return entry_out(view, reference.directory)
