"""Look-ups of one voter's records by IIN (operators): the IIN travels in the body, never the
URL, and the use case finds the records through the voter's pseudonym and audits the look-up.

Under ``/v1/search/`` rather than beside the records, where ``/v1/overrides/search`` would
also be the path of an override whose id is "search".
"""

from __future__ import annotations

from fastapi import APIRouter

from service.api.bodies import JsonBodyRoute
from service.api.deps import (
    DayRegistrationsDep,
    ListEntriesDep,
    OperatorDep,
    OverridesDep,
    ReferenceDep,
    RequestIdDep,
)
from service.api.routes.day_registrations import registration_answer
from service.api.routes.list_entries import entry_out
from service.api.routes.overrides import override_out
from service.api.schemas import (
    DayRegistrationList,
    DayRegistrationSearchRequest,
    ListEntryList,
    ListEntrySearchRequest,
    OverrideList,
    OverrideSearchRequest,
)
from service.usecases.ports import DayRegistrationQuery, ListEntryQuery, OverrideQuery

router = APIRouter(prefix="/v1/search", route_class=JsonBodyRoute)


@router.post("/overrides", response_model=OverrideList, tags=["overrides"])
async def search_overrides(
    body: OverrideSearchRequest,
    caller: OperatorDep,
    overrides: OverridesDep,
    request_id: RequestIdDep,
) -> OverrideList:
    query = OverrideQuery(
        election_id=body.election_id,
        kind=body.kind.value if body.kind else None,
        precinct_id=body.precinct_id,
        created_after=body.created_after,
        created_before=body.created_before,
    )
    page = await overrides.find(
        body.iin,
        query,
        status=body.status,
        limit=body.limit,
        cursor=body.cursor,
        caller=caller,
        request_id=request_id,
    )
    return OverrideList(items=[override_out(v) for v in page.items], next=page.next_cursor)


@router.post("/day-registrations", response_model=DayRegistrationList, tags=["day-registrations"])
async def search_registrations(
    body: DayRegistrationSearchRequest,
    caller: OperatorDep,
    registrations: DayRegistrationsDep,
    request_id: RequestIdDep,
) -> DayRegistrationList:
    query = DayRegistrationQuery(
        election_id=body.election_id,
        precinct_id=body.precinct_id,
        registered_after=body.registered_after,
        registered_before=body.registered_before,
    )
    page = await registrations.find(
        body.iin,
        query,
        status=body.status,
        limit=body.limit,
        cursor=body.cursor,
        caller=caller,
        request_id=request_id,
    )
    return DayRegistrationList(
        items=[await registration_answer(v, registrations) for v in page.items],
        next=page.next_cursor,
    )


@router.post("/list-entries", response_model=ListEntryList, tags=["list-entries"])
async def search_entries(
    body: ListEntrySearchRequest,
    caller: OperatorDep,
    entries: ListEntriesDep,
    reference: ReferenceDep,
    request_id: RequestIdDep,
) -> ListEntryList:
    query = ListEntryQuery(
        election_id=body.election_id,
        kind=body.kind,
        precinct_id=body.precinct_id,
        created_after=body.created_after,
        created_before=body.created_before,
    )
    page = await entries.find(
        body.iin,
        query,
        status=body.status,
        limit=body.limit,
        cursor=body.cursor,
        caller=caller,
        request_id=request_id,
    )
    return ListEntryList(
        items=[entry_out(v, reference.directory) for v in page.items], next=page.next_cursor
    )
