"""Tiny builders of domain values for unit tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from service.domain.model import (
    Custody,
    Election,
    ElectionKind,
    LegalCapacity,
    Parity,
    Person,
    Precinct,
    PrecinctKind,
    Registration,
    RegistrationKind,
    Segment,
)

VOTING_DAY = dt.date(2027, 3, 21)
ELECTION = Election(id="2027-president", kind=ElectionKind.PRESIDENTIAL, voting_day=VOTING_DAY)
KATO = "751110000"


def person(**changes: Any) -> Person:
    base = Person(
        iin="900101300126",
        surname="Сейтқали",
        given_name="Айгерім",
        patronymic=None,
        birth_date=dt.date(1990, 1, 1),
        sex="F",
        citizenship="KAZ",
        death_date=None,
        legal_capacity=LegalCapacity.FULL,
        custody=Custody.NONE,
        data_as_of=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    return replace(base, **changes)


def registration(**changes: Any) -> Registration:
    base = Registration(
        iin="900101300126",
        kind=RegistrationKind.PERMANENT,
        rca="0203000123450001",
        kato=KATO,
        street="Абай даңғылы",
        house="12А",
        flat="5",
        country="KAZ",
        city=None,
        valid_from=dt.date(2015, 3, 1),
        valid_until=None,
    )
    return replace(base, **changes)


def precinct(precinct_id: str = "75-0001", **changes: Any) -> Precinct:
    base = Precinct(
        id=precinct_id,
        number=int(precinct_id.split("-")[1]),
        name=f"Precinct {precinct_id}",
        address="Абай даңғылы 1",
        kato=KATO,
        kind=PrecinctKind.ORDINARY,
        country="KAZ",
        city=None,
        timezone="Asia/Almaty",
        day_registration=False,
        segments=(),
        buildings=(),
    )
    return replace(base, **changes)


def segment(
    street: str = "Абай даңғылы", first: int = 1, last: int = 99, parity: Parity = Parity.ALL
) -> Segment:
    return Segment(street=street, first=first, last=last, parity=parity)
