"""Frozen values the rules work on. Pure Python: no framework imports in this package."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class LegalCapacity(StrEnum):
    FULL = "full"
    INCAPACITATED = "incapacitated"


class Custody(StrEnum):
    NONE = "none"
    PRETRIAL = "pretrial"
    SENTENCED = "sentenced"


class RegistrationKind(StrEnum):
    PERMANENT = "permanent"
    TEMPORARY = "temporary"
    CONSULAR = "consular"


class PrecinctKind(StrEnum):
    ORDINARY = "ordinary"
    SPECIAL = "special"
    FOREIGN = "foreign"


class Parity(StrEnum):
    ODD = "odd"
    EVEN = "even"
    ALL = "all"


class Outcome(StrEnum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    UNDETERMINED = "undetermined"


class Basis(StrEnum):
    PERMANENT_REGISTRATION = "permanent_registration"
    TEMPORARY_REGISTRATION = "temporary_registration"
    CONSULAR_REGISTRATION = "consular_registration"
    DAY_REGISTRATION = "day_registration"
    OVERRIDE = "override"


class ReasonCode(StrEnum):
    """Why a person may not vote (SPEC §3, and §7 for exclusions). Sorted when reported."""

    DECEASED = "DECEASED"
    EXCLUDED_BY_OVERRIDE = "EXCLUDED_BY_OVERRIDE"
    IMPRISONED_BY_SENTENCE = "IMPRISONED_BY_SENTENCE"
    INCAPACITATED_BY_COURT = "INCAPACITATED_BY_COURT"
    NOT_CITIZEN = "NOT_CITIZEN"
    NOT_FOUND = "NOT_FOUND"
    UNDER_18 = "UNDER_18"


class NextStepCode(StrEnum):
    APPLY_TO_COMMISSION = "APPLY_TO_COMMISSION"
    DAY_REGISTRATION_AVAILABLE = "DAY_REGISTRATION_AVAILABLE"
    NO_PRECINCT_FOR_ADDRESS = "NO_PRECINCT_FOR_ADDRESS"


class OverrideKind(StrEnum):
    ASSIGN = "assign"
    INCLUDE = "include"
    EXCLUDE = "exclude"


HOME_COUNTRY = "KAZ"


@dataclass(frozen=True, slots=True)
class Person:
    """A record of the population registry (SPEC §10 population.jsonl).

    ``legal_capacity`` and ``custody`` are the registry's status as of ``data_as_of``; the
    dates (SPEC §15) bound it in time, so that each bar is judged as of voting day. A date
    the registry does not hold is None: an incapacity or a custody with no start has held
    since before any voting day, one with no end still holds.
    """

    iin: str
    surname: str
    given_name: str
    patronymic: str | None
    birth_date: dt.date
    sex: str
    citizenship: str
    death_date: dt.date | None
    legal_capacity: LegalCapacity
    custody: Custody
    data_as_of: dt.datetime
    incapacitated_since: dt.date | None = None
    capacity_restored_on: dt.date | None = None
    custody_since: dt.date | None = None
    sentence_ends_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    """A residence registration from the address service (SPEC §10 registrations.jsonl)."""

    iin: str
    kind: RegistrationKind
    rca: str | None
    kato: str | None
    street: str | None
    house: str | None
    flat: str | None
    country: str
    city: str | None
    valid_from: dt.date
    valid_until: dt.date | None

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of house numbers on one street: ``first``..``last`` inclusive, of one parity."""

    street: str
    first: int
    last: int
    parity: Parity


@dataclass(frozen=True, slots=True)
class Precinct:
    id: str
    number: int
    name: str
    address: str
    kato: str
    kind: PrecinctKind
    country: str
    city: str | None
    timezone: str
    day_registration: bool
    segments: tuple[Segment, ...] = ()
    buildings: tuple[str, ...] = ()

    @property
    def is_designated_for_day_registration(self) -> bool:
        return self.day_registration and self.kind is not PrecinctKind.FOREIGN


@dataclass(frozen=True, slots=True)
class RegistrationWindow:
    opens: dt.time
    closes: dt.time


DEFAULT_WINDOW = RegistrationWindow(opens=dt.time(7, 0), closes=dt.time(20, 0))


@dataclass(frozen=True, slots=True)
class Election:
    id: str
    kind: str
    voting_day: dt.date
    day_registration: RegistrationWindow = DEFAULT_WINDOW


@dataclass(frozen=True, slots=True)
class NextStep:
    code: NextStepCode
    precinct_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ActiveOverride:
    """An approved, unexpired manual override (SPEC §7) for one voter and election.

    ``precinct_id`` is required for ``assign`` and optional for ``include`` (a court may
    restore the right to vote of someone whose address no precinct covers).
    """

    id: str
    kind: OverrideKind
    precinct_id: str | None


@dataclass(frozen=True, slots=True)
class ActiveDayRegistration:
    id: str
    precinct_id: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules concluded for one person and one election."""

    outcome: Outcome
    reasons: tuple[ReasonCode, ...]
    precinct_id: str | None
    basis: Basis | None
    next_steps: tuple[NextStep, ...]
    ruleset: str
    registry_data_as_of: dt.datetime | None
    override_id: str | None = field(default=None)
