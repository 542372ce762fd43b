"""The four JSON Lines formats of SPEC §10, parsed into domain values.

Unknown fields are ignored; a line that does not parse stops the load with its line number
(never its content: population lines carry personal data).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from service.domain.iin import InvalidIin, parse_iin
from service.domain.model import (
    Custody,
    Election,
    LegalCapacity,
    Parity,
    Person,
    Precinct,
    PrecinctKind,
    Registration,
    RegistrationKind,
    RegistrationWindow,
    Segment,
)
from service.usecases.ports import Published
from service.usecases.reference_import import ReferenceFile


def _checked_iin(value: str) -> str:
    try:
        return parse_iin(value)
    except InvalidIin as exc:
        raise ValueError(exc.code.value) from None


Iin = Annotated[str, AfterValidator(_checked_iin)]
Kato = Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _left_out_when_null(value: object) -> bool:
    return value is None


# SPEC §15's dated facts: optional, and left out of a served record when null, so that the
# twelve million people with none of them cost no bytes for them.
DatedFact = Annotated[dt.date | None, Field(default=None, exclude_if=_left_out_when_null)]


class PersonRecord(_Record):
    iin: Iin
    surname: ShortText
    given_name: ShortText
    patronymic: ShortText | None = None
    birth_date: dt.date
    sex: Literal["M", "F"]
    citizenship: Annotated[str, StringConstraints(min_length=2, max_length=3)]
    death_date: dt.date | None = None
    legal_capacity: LegalCapacity
    custody: Custody
    data_as_of: dt.datetime
    incapacitated_since: DatedFact
    capacity_restored_on: DatedFact
    custody_since: DatedFact
    sentence_ends_on: DatedFact

    def to_domain(self) -> Person:
        return Person(
            iin=self.iin,
            surname=self.surname,
            given_name=self.given_name,
            patronymic=self.patronymic,
            birth_date=self.birth_date,
            sex=self.sex,
            citizenship=self.citizenship,
            death_date=self.death_date,
            legal_capacity=self.legal_capacity,
            custody=self.custody,
            data_as_of=self.data_as_of,
            incapacitated_since=self.incapacitated_since,
            capacity_restored_on=self.capacity_restored_on,
            custody_since=self.custody_since,
            sentence_ends_on=self.sentence_ends_on,
        )


class RegistrationRecord(_Record):
    iin: Iin
    kind: RegistrationKind
    rca: ShortText | None = None
    kato: Kato | None = None
    street: ShortText | None = None
    house: ShortText | None = None
    flat: ShortText | None = None
    country: CountryCode
    city: ShortText | None = None
    valid_from: dt.date
    valid_until: dt.date | None = None

    def to_domain(self) -> Registration:
        return Registration(
            iin=self.iin,
            kind=self.kind,
            rca=self.rca,
            kato=self.kato,
            street=self.street,
            house=self.house,
            flat=self.flat,
            country=self.country,
            city=self.city,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
        )


class SegmentRecord(_Record):
    street: ShortText
    first: int = Field(alias="from", ge=0)
    last: int = Field(alias="to", ge=0)
    parity: Parity

    def to_domain(self) -> Segment:
        return Segment(street=self.street, first=self.first, last=self.last, parity=self.parity)


class PrecinctRecord(_Record):
    id: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z-]{1,32}$")]
    number: int = Field(ge=0)
    name: ShortText
    address: ShortText
    kato: Kato
    kind: PrecinctKind
    country: CountryCode
    city: ShortText | None = None
    timezone: ShortText
    day_registration: bool
    segments: list[SegmentRecord] = []
    buildings: list[ShortText] = []

    def to_domain(self) -> Precinct:
        return Precinct(
            id=self.id,
            number=self.number,
            name=self.name,
            address=self.address,
            kato=self.kato,
            kind=self.kind,
            country=self.country,
            city=self.city,
            timezone=self.timezone,
            day_registration=self.day_registration,
            segments=tuple(s.to_domain() for s in self.segments),
            buildings=tuple(self.buildings),
        )


class WindowRecord(_Record):
    opens: dt.time
    closes: dt.time


class ElectionRecord(_Record):
    id: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_-]{1,64}$")]
    kind: ShortText
    voting_day: dt.date
    day_registration: WindowRecord = WindowRecord(opens=dt.time(7), closes=dt.time(20))

    def to_domain(self) -> Election:
        return Election(
            id=self.id,
            kind=self.kind,
            voting_day=self.voting_day,
            day_registration=RegistrationWindow(
                opens=self.day_registration.opens, closes=self.day_registration.closes
            ),
        )


class DataFileError(ValueError):
    """A data file was refused. Names the file and line, never the line's content."""

    def __init__(self, path: Path, line_number: int, problem: str) -> None:
        super().__init__(f"{path}: line {line_number}: {problem}")
        self.path = path
        self.line_number = line_number
        self.problem = problem


def _describe(error: ValidationError) -> str:
    # Field locations and error kinds only: the input values may be personal data.
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "line"
        parts.append(f"{where}: {item['type']}")
    return "; ".join(parts)


R = TypeVar("R", bound=_Record)


def iter_records(path: Path, model: type[R]) -> Iterator[tuple[int, R]]:
    """Yield (line number, record) for each non-blank line; raise DataFileError on a bad one."""
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield line_number, model.model_validate_json(raw)
            except ValidationError as exc:
                raise DataFileError(path, line_number, _describe(exc)) from None


def read_precincts(path: Path) -> ReferenceFile[Precinct]:
    """A ``precincts.jsonl`` for import: each record also kept as published."""
    return ReferenceFile(
        [
            Published(r.to_domain(), r.model_dump_json(by_alias=True))
            for _, r in iter_records(path, PrecinctRecord)
        ],
        _sha256(path),
    )


def read_elections(path: Path) -> ReferenceFile[Election]:
    """An ``elections.jsonl`` for import: each record also kept as published."""
    return ReferenceFile(
        [
            Published(r.to_domain(), r.model_dump_json())
            for _, r in iter_records(path, ElectionRecord)
        ],
        _sha256(path),
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def person_to_json(person: Person) -> dict[str, Any]:
    dated = {
        "incapacitated_since": person.incapacitated_since,
        "capacity_restored_on": person.capacity_restored_on,
        "custody_since": person.custody_since,
        "sentence_ends_on": person.sentence_ends_on,
    }
    return {
        "iin": person.iin,
        "surname": person.surname,
        "given_name": person.given_name,
        "patronymic": person.patronymic,
        "birth_date": person.birth_date.isoformat(),
        "sex": person.sex,
        "citizenship": person.citizenship,
        "death_date": person.death_date.isoformat() if person.death_date else None,
        "legal_capacity": person.legal_capacity.value,
        "custody": person.custody.value,
        "data_as_of": person.data_as_of.isoformat().replace("+00:00", "Z"),
        **{name: day.isoformat() for name, day in dated.items() if day is not None},
    }
