"""The demo's records of the ways onto a list (SPEC §15), made before voting day in their windows.

The demo serves voting day (10:00 in Almaty), when the windows for presence lists,
applications and absentee certificates have closed. So before the API starts, the demo makes
one record of each kind the way an operator would have, through the same use cases the API
calls, with the service clock standing inside each window: a place-of-stay application on
E-40, and on E-2 a hospital's presence list, an absentee certificate and a mission
application. Each names an eligible resident of the generated country (chosen by the pure
rules over the data files, the first ones by IIN that are not already samples), who then
becomes the banner's sample of that basis. A second start finds the records already there
(each refusal is expected and ignored) and shows the same voters.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable
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
_OPERATOR = Caller(subject="demo-operator-a", roles=frozenset({Role.OPERATOR}), token_id=None)


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


async def _quietly(make: Callable[[], Awaitable[object]]) -> None:
    """Make a record; a refusal (already made by an earlier start) is expected."""
    with contextlib.suppress(ServiceError):
        await make()


def make_list_records(
    settings: Settings,
    country: Path,
    *,
    election_id: str,
    voting_day: dt.date,
    samples: dict[str, str],
) -> dict[str, str]:
    """Make the records and return the sample IIN of each category they give."""
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
    clock = _StandingClock(
        dt.datetime.combine(voting_day - dt.timedelta(days=40), dt.time(12), tzinfo=ALMATY)
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
        request = "demo-records"
        try:
            await _quietly(
                lambda: services.applications.place_of_stay(
                    election_id=election_id,
                    raw_iin=chosen[PLACE_OF_STAY][0],
                    stay=StayAddress(
                        rca=None, kato=stay.kato, street=stay.street, house=stay.house
                    ),
                    document_ref="akimat decision 12/2027 (demo)",
                    caller=_OPERATOR,
                    request_id=request,
                )
            )
            clock.instant = dt.datetime.combine(
                voting_day - dt.timedelta(days=2), dt.time(12), tzinfo=ALMATY
            )
            await _quietly(
                lambda: services.list_entries.import_presence_list(
                    election_id=election_id,
                    precinct_id=hospital.id,
                    raw_iins=[chosen[PRESENCE][0]],
                    document_ref="head physician's list (demo)",
                    caller=_OPERATOR,
                    request_id=request,
                )
            )
            await _quietly(
                lambda: services.certificates.issue(
                    election_id=election_id,
                    raw_iin=chosen[CERTIFICATE][0],
                    document_ref="written request (demo)",
                    caller=_OPERATOR,
                    request_id=request,
                )
            )
            await _quietly(
                lambda: services.applications.at_mission(
                    election_id=election_id,
                    raw_iin=chosen[MISSION][0],
                    precinct_id=mission.id,
                    document_ref="application at the mission (demo)",
                    caller=_OPERATOR,
                    request_id=request,
                )
            )
        finally:
            await services.decisions.aclose()
            for client in services.upstream_clients:
                await client.aclose()
            database.dispose()

    asyncio.run(make())
    return {category: iin for category, (iin, _, _) in chosen.items()}
