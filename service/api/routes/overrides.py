"""Manual overrides with maker-checker (SPEC §7), operators only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from service.api.bodies import JsonBodyRoute
from service.api.deps import OperatorDep, OverridesDep, RequestIdDep
from service.api.presenters import receipt_out, undo_requests_out
from service.api.schemas import (
    CURSOR_PATTERN,
    ELECTION_ID_PATTERN,
    PRECINCT_ID_PATTERN,
    EmptyRequest,
    Instant,
    OverrideActionOut,
    OverrideList,
    OverrideOut,
    OverrideRequest,
    ReasonRequest,
    UndoApproval,
)
from service.domain.model import OverrideKind
from service.domain.overrides import OverrideAction, OverrideReason, OverrideStatus
from service.domain.undo import UndoStep
from service.usecases.overrides import NewOverride, OverrideView
from service.usecases.paging import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from service.usecases.ports import OverrideQuery

router = APIRouter(prefix="/v1/overrides", tags=["overrides"], route_class=JsonBodyRoute)

OverrideId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9a-f-]+$")]


def override_out(view: OverrideView) -> OverrideOut:
    return OverrideOut(
        id=view.id,
        election_id=view.election_id,
        subject=view.subject,
        kind=view.kind,
        precinct_id=view.precinct_id,
        reason_code=view.reason_code,
        reason_text=view.reason_text,
        document_ref=view.document_ref,
        expires_on=view.expires_on,
        status=view.status.value,
        created_by=view.created_by,
        created_at=view.created_at,
        actions=[
            OverrideActionOut(action=a.action, by=a.by, at=a.at, reason=a.reason)
            for a in view.actions
        ],
        revocation_requests=undo_requests_out(view.revocation_requests),
        audit=receipt_out(view.receipt) if view.receipt else None,
    )


@router.post("", status_code=201, response_model=OverrideOut)
async def create_override(
    body: OverrideRequest, caller: OperatorDep, overrides: OverridesDep, request_id: RequestIdDep
) -> OverrideOut:
    view = await overrides.create(
        NewOverride(
            raw_iin=body.iin,
            election_id=body.election_id,
            kind=OverrideKind(body.kind),
            precinct_id=body.precinct_id,
            reason_code=OverrideReason(body.reason_code),
            reason_text=body.reason_text,
            document_ref=body.document_ref,
            expires_on=body.expires_on,
        ),
        caller=caller,
        request_id=request_id,
    )
    return override_out(view)


@router.get("", response_model=OverrideList)
async def list_overrides(
    _caller: OperatorDep,
    overrides: OverridesDep,
    election_id: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=ELECTION_ID_PATTERN)
    ] = None,
    status: OverrideStatus | None = None,
    kind: OverrideKind | None = None,
    precinct_id: Annotated[
        str | None, Query(min_length=1, max_length=32, pattern=PRECINCT_ID_PATTERN)
    ] = None,
    created_after: Annotated[Instant | None, Query()] = None,
    created_before: Annotated[Instant | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH, pattern=CURSOR_PATTERN)
    ] = None,
) -> OverrideList:
    query = OverrideQuery(
        election_id=election_id,
        kind=kind.value if kind else None,
        precinct_id=precinct_id,
        created_after=created_after,
        created_before=created_before,
    )
    page = await overrides.page(query, status=status, limit=limit, cursor=cursor)
    return OverrideList(items=[override_out(v) for v in page.items], next=page.next_cursor)


@router.get("/{override_id}", response_model=OverrideOut)
async def get_override(
    override_id: OverrideId, _caller: OperatorDep, overrides: OverridesDep
) -> OverrideOut:
    return override_out(await overrides.get(override_id))


@router.post("/{override_id}/approve", response_model=OverrideOut)
async def approve_override(
    override_id: OverrideId,
    _body: EmptyRequest,
    caller: OperatorDep,
    overrides: OverridesDep,
    request_id: RequestIdDep,
) -> OverrideOut:
    view = await overrides.act(
        override_id, OverrideAction.APPROVE, reason=None, caller=caller, request_id=request_id
    )
    return override_out(view)


@router.post("/{override_id}/refuse", response_model=OverrideOut)
async def refuse_override(
    override_id: OverrideId,
    body: ReasonRequest,
    caller: OperatorDep,
    overrides: OverridesDep,
    request_id: RequestIdDep,
) -> OverrideOut:
    view = await overrides.act(
        override_id, OverrideAction.REFUSE, reason=body.reason, caller=caller, request_id=request_id
    )
    return override_out(view)


@router.post("/{override_id}/revoke", status_code=202, response_model=OverrideOut)
async def revoke_override(
    override_id: OverrideId,
    body: ReasonRequest,
    caller: OperatorDep,
    overrides: OverridesDep,
    request_id: RequestIdDep,
) -> OverrideOut:
    view = await overrides.request_revocation(
        override_id, reason=body.reason, caller=caller, request_id=request_id
    )
    return override_out(view)


@router.post("/{override_id}/revoke/approve", response_model=OverrideOut)
async def approve_override_revocation(
    override_id: OverrideId,
    body: UndoApproval,
    caller: OperatorDep,
    overrides: OverridesDep,
    request_id: RequestIdDep,
) -> OverrideOut:
    view = await overrides.decide_revocation(
        override_id,
        UndoStep.APPROVE,
        reason=None,
        caller=caller,
        request_id=request_id,
        undo_request_id=body.undo_request_id,
    )
    return override_out(view)


@router.post("/{override_id}/revoke/refuse", response_model=OverrideOut)
async def refuse_override_revocation(
    override_id: OverrideId,
    body: ReasonRequest,
    caller: OperatorDep,
    overrides: OverridesDep,
    request_id: RequestIdDep,
) -> OverrideOut:
    view = await overrides.decide_revocation(
        override_id, UndoStep.REFUSE, reason=body.reason, caller=caller, request_id=request_id
    )
    return override_out(view)
