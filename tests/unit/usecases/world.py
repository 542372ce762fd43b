"""One small country for the use-case tests: precincts, an election, voters, and the use
cases wired to the in-memory fakes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from service.clock import FixedClock
from service.domain.caller import Caller, Role
from service.domain.model import (
    Election,
    ElectionKind,
    Parity,
    Person,
    PrecinctKind,
    Registration,
    RegistrationKind,
)
from service.usecases.day_registrations import DayRegistrationService
from service.usecases.eligibility import EligibilityService
from service.usecases.overrides import OverrideService
from tests.unit.factories import ELECTION, person, precinct, registration, segment
from tests.unit.usecases.fakes import (
    Addresses,
    FakeDecisionLog,
    FakeReference,
    FakeStorage,
    Registry,
    Store,
    pseudonym,
)

# Three weeks before voting day (2027-03-21), and 10:00 in Almaty on voting day.
BEFORE_THE_DAY = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
ON_THE_DAY = dt.datetime(2027, 3, 21, 5, 0, tzinfo=dt.UTC)

RESIDENT = "900101300126"  # registered at Абай даңғылы 12А: precinct 75-0001
HOMELESS = "791028302728"  # registered nowhere
ABROAD = "061211600012"  # registered at a consulate only

HOME = precinct("75-0001", segments=(segment("Абай даңғылы", 1, 99, Parity.ALL),))
DESIGNATED = precinct("75-0002", day_registration=True, segments=(segment("Сейфуллин", 1, 9),))
SPECIAL = precinct("75-0003", kind=PrecinctKind.SPECIAL)

# Citizens do not vote in it; and a local election whose territory holds none of the
# precincts above (all in Almaty, KATO 75...).
SENATE = Election("2023-senate", ElectionKind.SENATE, dt.date(2023, 1, 14))
ORAL_AKIM = replace(ELECTION, id="2027-akim-oral", kind=ElectionKind.AKIM, territory=("27",))

EGOV = Caller("clerk@egov", frozenset({Role.EGOV}), None)
# Serves the precincts these tests check, one of them unknown to the directory.
COMMISSION = Caller(
    "member@pec", frozenset({Role.COMMISSION}), None, frozenset({"75-0001", "75-0002", "99-9999"})
)
MAKER = Caller("maker@tec", frozenset({Role.OPERATOR}), None)
CHECKER = Caller("checker@tec", frozenset({Role.OPERATOR}), None)


def voters(*extra: Person) -> Registry:
    return Registry(
        person(iin=RESIDENT),
        person(iin=HOMELESS),
        person(iin=ABROAD),
        *extra,
    )


def homes(*extra: Registration) -> Addresses:
    return Addresses(
        registration(iin=RESIDENT),
        registration(
            iin=ABROAD,
            kind=RegistrationKind.CONSULAR,
            rca=None,
            kato=None,
            street=None,
            house=None,
            flat=None,
            country="TUR",
            city="Istanbul",
        ),
        *extra,
    )


@dataclass
class World:
    store: Store
    storage: FakeStorage
    eligibility: EligibilityService
    day_registrations: DayRegistrationService
    overrides: OverrideService
    reference: FakeReference


def world(
    *,
    now: dt.datetime = BEFORE_THE_DAY,
    registry: Registry | None = None,
    addresses: Addresses | None = None,
) -> World:
    store = Store()
    storage = FakeStorage(store)
    clock = FixedClock(now)
    reference = FakeReference(
        precincts=[HOME, DESIGNATED, SPECIAL], elections=[ELECTION, SENATE, ORAL_AKIM]
    )
    eligibility = EligibilityService(
        registry=registry or voters(),
        addresses=addresses or homes(),
        reference=reference,
        storage=storage,
        decisions=FakeDecisionLog(store, now=now),
        pseudonymise=pseudonym,
        clock=clock,
    )
    return World(
        store=store,
        storage=storage,
        eligibility=eligibility,
        day_registrations=DayRegistrationService(
            eligibility=eligibility,
            storage=storage,
            reference=reference,
            pseudonymise=pseudonym,
            clock=clock,
        ),
        overrides=OverrideService(
            storage=storage, reference=reference, pseudonymise=pseudonym, clock=clock
        ),
        reference=reference,
    )
