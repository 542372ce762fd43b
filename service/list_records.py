"""Records of the ways onto a list (SPEC §15), made before voting day in their windows
through the use cases: the demo's samples and the roll benchmark's data.

The demo serves voting day (10:00 in Almaty), when the windows for presence lists,
applications and absentee certificates have closed. So before the API starts, the demo makes
one record of each kind the way an operator would have, through the same use cases the API
calls, with the service clock standing inside each window: a place-of-stay application on
E-40, and on E-2 a hospital's presence list, an absentee certificate and a mission
application. Each names an eligible resident of the generated country (chosen by the pure
rules over the data files, the first ones by IIN that are not already samples), who then
becomes the banner's sample of that basis. A second start finds the records already there
(each refusal is expected and counted) and shows the same voters.

The roll benchmark (``bench/roll.py``) makes many records of each kind the same way
(``make_records`` with a larger ``ListRecordPlan``), so the compile meets them at scale.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from service.adapters.pipeline import Transports
from service.bootstrap import build_services
from service.clock import SystemClock
from service.config import Settings
from service.datafiles import (
    ElectionRecord,
    PersonRecord,
    PrecinctRecord,
    RegistrationRecord,
    iter_records,
)
from service.db.engine import open_database
from service.domain.caller import Caller, Role
from service.domain.decision import decide
from service.domain.model import Basis, Precinct, PrecinctKind, Registration, RegistrationKind
from service.domain.precincts import PrecinctDirectory
from service.errors import ServiceError
from service.usecases.applications import StayAddress

ALMATY = ZoneInfo("Asia/Almaty")
# The categories the banner shows, one per basis these records give.
PRESENCE = "special_presence"
CERTIFICATE = "absentee_certificate"
PLACE_OF_STAY = "place_of_stay_application"
MISSION = "mission_application"
RECORD_CATEGORIES = (PRESENCE, CERTIFICATE, PLACE_OF_STAY, MISSION)
# The most IINs the presence-list use case takes in one import.
MAX_PRESENCE_LIST = 2000


class _StandingClock:
    """The service clock of the records: moved by hand from one window to the next."""

    def __init__(self, instant: dt.datetime) -> None:
        self.instant = instant

    def now(self) -> dt.datetime:
        return self.instant.astimezone(dt.UTC)


def _residents(
    country: Path, election_id: str, exclude: set[str]
) -> tuple[list[tuple[str, Registration, str]], PrecinctDirectory, Any]:
    """Eligible voters placed by one permanent registration, by IIN: (iin, registration,
    precinct id); the directory and the election."""
    directory = PrecinctDirectory(
        r.to_domain() for _, r in iter_records(country / "precincts.jsonl", PrecinctRecord)
    )
    election = next(
        r.to_domain()
        for _, r in iter_records(country / "elections.jsonl", ElectionRecord)
        if r.id == election_id
    )
    held: dict[str, list[Registration]] = {}
    for _, record in iter_records(country / "registrations.jsonl", RegistrationRecord):
        held.setdefault(record.iin, []).append(record.to_domain())
    found = []
    people = sorted(
        (r.to_domain() for _, r in iter_records(country / "population.jsonl", PersonRecord)),
        key=lambda person: person.iin,
    )
    for person in people:
        registrations = held.get(person.iin, [])
        if person.iin in exclude or len(registrations) != 1:
            continue
        [registration] = registrations
        if registration.kind is not RegistrationKind.PERMANENT:
            continue
        decision = decide(person, registrations, election=election, directory=directory)
        if decision.basis is Basis.PERMANENT_REGISTRATION and decision.precinct_id:
            found.append((person.iin, registration, decision.precinct_id))
        if len(found) >= 20:
            break
    return found, directory, election


def _first(precincts: list[Precinct], kind: PrecinctKind, election: Any) -> Precinct:
    return min((p for p in precincts if p.kind is kind and election.holds(p)), key=lambda p: p.id)


@dataclass(frozen=True)
class ListRecordPlan:
    """Records of the ways onto a list to make, each naming a voter by IIN."""

    stays: Sequence[tuple[str, StayAddress]] = ()
    presence: Mapping[str, Sequence[str]] = field(default_factory=dict)  # special precinct
    certificates: Sequence[str] = ()
    missions: Sequence[tuple[str, str]] = ()  # (IIN, mission precinct id)


def make_records(
    settings: Settings,
    plan: ListRecordPlan,
    *,
    election_id: str,
    voting_day: dt.date,
    concurrency: int = 1,
    label: str = "demo",
) -> Counter[str]:
    """Make ``plan``'s records through the use cases, as operators would: the place-of-stay
    applications on E-40, then on E-2 the presence lists, certificates and mission
    applications; ``concurrency`` requests at a time. Returns how each kind went:
    ``"<basis> made"`` or ``"<basis> <refusal code>"`` (a refusal is an answer, not an
    error: the voter may be ineligible, or an earlier run made the record)."""
    clock = _StandingClock(
        dt.datetime.combine(voting_day - dt.timedelta(days=40), dt.time(12), tzinfo=ALMATY)
    )
    tally: Counter[str] = Counter()
    operator = Caller(
        subject=f"{label}-operator-a", roles=frozenset({Role.OPERATOR}), token_id=None
    )

    async def make() -> None:
        database = open_database(settings.database_url)
        services = build_services(
            settings,
            database=database,
            clock=clock,
            wall_clock=SystemClock(),
            transports=Transports(),
        )
        room = asyncio.Semaphore(concurrency)
        request = f"{label}-records"

        async def one(category: str, work: Awaitable[object]) -> None:
            async with room:
                try:
                    await work
                except ServiceError as refused:
                    tally[f"{category} {refused.code.value}"] += 1
                else:
                    tally[f"{category} made"] += 1

        async def presence(precinct_id: str, iins: Sequence[str]) -> None:
            async with room:
                try:
                    done = await services.list_entries.import_presence_list(
                        election_id=election_id,
                        precinct_id=precinct_id,
                        raw_iins=iins,
                        document_ref=f"head of institution's list ({label})",
                        caller=operator,
                        request_id=request,
                    )
                except ServiceError as refused:  # the whole list (a window, a precinct)
                    tally[f"{PRESENCE} {refused.code.value}"] += len(iins)
                    return
            for answer in done.answers:
                tally[f"{PRESENCE} {answer.code.value if answer.code else 'made'}"] += 1

        try:
            await asyncio.gather(
                *(
                    one(
                        PLACE_OF_STAY,
                        services.applications.place_of_stay(
                            election_id=election_id,
                            raw_iin=iin,
                            stay=stay,
                            document_ref=f"akimat decision 12/2027 ({label})",
                            caller=operator,
                            request_id=request,
                        ),
                    )
                    for iin, stay in plan.stays
                )
            )
            clock.instant = dt.datetime.combine(
                voting_day - dt.timedelta(days=2), dt.time(12), tzinfo=ALMATY
            )
            await asyncio.gather(
                *(
                    presence(precinct_id, iins[start : start + MAX_PRESENCE_LIST])
                    for precinct_id, iins in plan.presence.items()
                    for start in range(0, len(iins), MAX_PRESENCE_LIST)
                ),
                *(
                    one(
                        CERTIFICATE,
                        services.certificates.issue(
                            election_id=election_id,
                            raw_iin=iin,
                            document_ref=f"written request ({label})",
                            caller=operator,
                            request_id=request,
                        ),
                    )
                    for iin in plan.certificates
                ),
                *(
                    one(
                        MISSION,
                        services.applications.at_mission(
                            election_id=election_id,
                            raw_iin=iin,
                            precinct_id=mission,
                            document_ref=f"application at the mission ({label})",
                            caller=operator,
                            request_id=request,
                        ),
                    )
                    for iin, mission in plan.missions
                ),
            )
        finally:
            await services.decisions.aclose()
            for client in services.upstream_clients:
                await client.aclose()
            database.dispose()

    asyncio.run(make())
    return tally


def make_list_records(
    settings: Settings,
    country: Path,
    *,
    election_id: str,
    voting_day: dt.date,
    samples: dict[str, str],
) -> dict[str, str]:
    """Make the demo's records and return the sample IIN of each category they give."""
    residents, directory, election = _residents(country, election_id, set(samples.values()))
    if len(residents) < len(RECORD_CATEGORIES) + 1:
        return {}
    chosen = dict(zip(RECORD_CATEGORIES, residents, strict=False))
    # The stay address: a resident's home whose precinct is not the applicant's own.
    applicant_precinct = chosen[PLACE_OF_STAY][2]
    stay = next(reg for _, reg, precinct in residents if precinct != applicant_precinct)
    precincts = list(directory.all())
    hospital = _first(precincts, PrecinctKind.SPECIAL, election)
    mission = _first(precincts, PrecinctKind.FOREIGN, election)
    plan = ListRecordPlan(
        stays=[(chosen[PLACE_OF_STAY][0], stay_address(stay))],
        presence={hospital.id: [chosen[PRESENCE][0]]},
        certificates=[chosen[CERTIFICATE][0]],
        missions=[(chosen[MISSION][0], mission.id)],
    )
    make_records(settings, plan, election_id=election_id, voting_day=voting_day)
    return {category: iin for category, (iin, _, _) in chosen.items()}


def stay_address(registration: Registration) -> StayAddress:
    """A registration's address as a place-of-stay application names it."""
    return StayAddress(
        rca=None, kato=registration.kato, street=registration.street, house=registration.house
    )
