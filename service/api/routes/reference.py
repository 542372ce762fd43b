"""The precinct directory and the election calendar."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from service.api.bodies import JsonBodyRoute
from service.api.deps import AnyRoleDep, ReferenceDep
from service.api.schemas import (
    CalendarOut,
    ElectionList,
    ElectionOut,
    LocalWindowOut,
    PrecinctList,
    PrecinctOut,
    SegmentOut,
    WindowOut,
)
from service.domain.model import Election, LocalWindow, Precinct
from service.domain.rules import ruleset_for
from service.errors import ErrorCode, NotFound

router = APIRouter(prefix="/v1", tags=["reference"], route_class=JsonBodyRoute)

PrecinctId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z-]+$")]
ElectionIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]


def precinct_out(p: Precinct) -> PrecinctOut:
    return PrecinctOut(
        id=p.id,
        number=p.number,
        name=p.name,
        address=p.address,
        kato=p.kato,
        kind=p.kind.value,
        country=p.country,
        city=p.city,
        timezone=p.timezone,
        day_registration=p.day_registration,
        segments=[
            SegmentOut(street=s.street, from_=s.first, to=s.last, parity=s.parity.value)
            for s in p.segments
        ],
        buildings=list(p.buildings),
    )


def _local(window: LocalWindow) -> LocalWindowOut:
    # Wall-clock times without an offset: each precinct reads them in its own zone.
    return LocalWindowOut(
        opens=window.opens.isoformat(timespec="minutes"),
        closes=window.closes.isoformat(timespec="minutes"),
    )


def election_out(e: Election) -> ElectionOut:
    calendar = e.calendar
    return ElectionOut(
        id=e.id,
        kind=e.kind.value,
        voting_day=e.voting_day,
        called_on=e.called_on,
        territory=list(e.territory),
        day_registration=WindowOut(
            opens=e.day_registration.opens.strftime("%H:%M"),
            closes=e.day_registration.closes.strftime("%H:%M"),
        ),
        calendar=CalendarOut(
            applications=_local(calendar.applications),
            lists_frozen_on=calendar.lists_frozen_on,
            absentee_certificates=_local(calendar.absentee_certificates),
            day_registration=_local(calendar.day_registration),
            presence_lists=_local(calendar.presence_lists),
            mission_applications=_local(calendar.mission_applications),
        ),
        ruleset=ruleset_for(e.voting_day).version,
    )


@router.get("/precincts", response_model=PrecinctList, response_model_by_alias=True)
async def list_precincts(
    _caller: AnyRoleDep,
    reference: ReferenceDep,
    kato: Annotated[str | None, Query(pattern=r"^[0-9]{9}$")] = None,
    day_registration: bool | None = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> PrecinctList:
    matching = [
        p
        for p in reference.directory.all()
        if (kato is None or p.kato == kato)
        and (day_registration is None or p.day_registration == day_registration)
        and (country is None or p.country == country)
    ]
    page = matching[offset : offset + limit]
    return PrecinctList(items=[precinct_out(p) for p in page], total=len(matching))


@router.get("/precincts/{precinct_id}", response_model=PrecinctOut, response_model_by_alias=True)
async def get_precinct(
    precinct_id: PrecinctId, _caller: AnyRoleDep, reference: ReferenceDep
) -> PrecinctOut:
    precinct = reference.directory.get(precinct_id)
    if precinct is None:
        raise NotFound(ErrorCode.PRECINCT_NOT_FOUND)
    return precinct_out(precinct)


@router.get("/elections", response_model=ElectionList)
async def list_elections(_caller: AnyRoleDep, reference: ReferenceDep) -> ElectionList:
    ordered = sorted(reference.elections.values(), key=lambda e: (e.voting_day, e.id))
    return ElectionList(items=[election_out(e) for e in ordered])


@router.get("/elections/{election_id}", response_model=ElectionOut)
async def get_election(
    election_id: ElectionIdPath, _caller: AnyRoleDep, reference: ReferenceDep
) -> ElectionOut:
    election = reference.elections.get(election_id)
    if election is None:
        raise NotFound(ErrorCode.ELECTION_NOT_FOUND)
    return election_out(election)
