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
    NaiveDatetime,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from service.domain.iin import InvalidIin, parse_iin
from service.domain.model import (
    CalendarChanges,
    Custody,
    Election,
    ElectionKind,
    LegalCapacity,
    LocalWindow,
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


class LocalWindowRecord(_Record):
    """A calendar step: local wall-clock date-times, no offset (each precinct's own zone)."""

    opens: NaiveDatetime
    closes: NaiveDatetime

    @model_validator(mode="after")
    def _opens_first(self) -> LocalWindowRecord:
        if self.opens >= self.closes:
            raise ValueError("a window opens before it closes")
        return self

    def to_domain(self) -> LocalWindow:
        return LocalWindow(opens=self.opens, closes=self.closes)


class CalendarRecord(_Record):
    """The steps of SPEC §15 an election sets instead of the defaults."""

    applications: LocalWindowRecord | None = None
    lists_frozen_on: dt.date | None = None
    absentee_certificates: LocalWindowRecord | None = None
    presence_lists: LocalWindowRecord | None = None
    mission_applications: LocalWindowRecord | None = None

    def to_domain(self) -> CalendarChanges:
        return CalendarChanges(
            applications=self.applications.to_domain() if self.applications else None,
            lists_frozen_on=self.lists_frozen_on,
            absentee_certificates=(
                self.absentee_certificates.to_domain() if self.absentee_certificates else None
            ),
            presence_lists=self.presence_lists.to_domain() if self.presence_lists else None,
            mission_applications=(
                self.mission_applications.to_domain() if self.mission_applications else None
            ),
        )


KatoPrefix = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}$")]
# Validation context of an election read back from the database: a version published before
# records carried a call date and territories loads as it was published (SPEC §16).
PUBLISHED_BEFORE_KINDS = {"published_before_kinds": True}


class ElectionRecord(_Record):
    id: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_-]{1,64}$")]
    # One of ElectionKind, or "parliamentary" (SPEC §14): checked with the voting day below.
    kind: ShortText
    voting_day: dt.date
    called_on: dt.date | None = None
    territory: Annotated[list[KatoPrefix], Field(max_length=1000)] = []
    day_registration: WindowRecord = WindowRecord(opens=dt.time(7), closes=dt.time(20))
    calendar: CalendarRecord = CalendarRecord()

    @model_validator(mode="after")
    def _kind_fits(self, info: ValidationInfo) -> ElectionRecord:
        kind = ElectionKind.named(self.kind, voting_day=self.voting_day)
        as_published = bool(info.context and info.context.get("published_before_kinds"))
        if self.called_on is None and not as_published:
            raise ValueError("called_on is required: the date the election was called")
        if self.called_on is not None and self.called_on > self.voting_day:
            raise ValueError("called_on is after voting_day")
        if kind.is_local and not self.territory and not as_published:
            raise ValueError(
                f"a {kind.value} election needs its territory: a list of KATO prefixes"
            )
        if self.territory and not kind.is_local:
            raise ValueError("only maslikhat and akim elections have a territory")
        return self

    def to_domain(self) -> Election:
        return Election(
            id=self.id,
            kind=ElectionKind.named(self.kind, voting_day=self.voting_day),
            voting_day=self.voting_day,
            day_registration=RegistrationWindow(
                opens=self.day_registration.opens, closes=self.day_registration.closes
            ),
            called_on=self.called_on,
            territory=tuple(self.territory),
            calendar_changes=self.calendar.to_domain(),
        )


def published_election(body: str) -> Election:
    """An election as a version in the database holds it (see PUBLISHED_BEFORE_KINDS)."""
    return ElectionRecord.model_validate_json(body, context=PUBLISHED_BEFORE_KINDS).to_domain()


class DataFileError(ValueError):
    """A data file was refused. Names the file and line, never the line's content."""

    def __init__(self, path: Path, line_number: int, problem: str) -> None:
        super().__init__(f"{path}: line {line_number}: {problem}")
        self.path = path
        self.line_number = line_number
        self.problem = problem


def _describe(error: ValidationError) -> str:
    # Field locations and error kinds only: the input values may be personal data. The
    # texts of this module's own checks (value_error) never quote a person's data.
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "line"
        said = item["msg"].removeprefix("Value error, ") if item["type"] == "value_error" else ""
        parts.append(f"{where}: {item['type']}" + (f" ({said})" if said else ""))
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
