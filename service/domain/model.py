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
    # A presence list of a special precinct (SPEC §15, way 2).
    SPECIAL_PRESENCE = "special_presence"
    # A place-of-stay application accepted by the akimat (SPEC §15, way 3).
    PLACE_OF_STAY_APPLICATION = "place_of_stay_application"
    # An absentee certificate (SPEC §15, way 4): on no list until it is used at a precinct.
    ABSENTEE_CERTIFICATE = "absentee_certificate"
    # A mission application of a citizen staying abroad briefly (SPEC §15, way 6).
    MISSION_APPLICATION = "mission_application"


class ReasonCode(StrEnum):
    """Why a person may not vote (SPEC §3, §7 for exclusions, §14 for territory). Sorted
    when reported."""

    DECEASED = "DECEASED"
    EXCLUDED_BY_OVERRIDE = "EXCLUDED_BY_OVERRIDE"
    IMPRISONED_BY_SENTENCE = "IMPRISONED_BY_SENTENCE"
    INCAPACITATED_BY_COURT = "INCAPACITATED_BY_COURT"
    NOT_CITIZEN = "NOT_CITIZEN"
    NOT_FOUND = "NOT_FOUND"
    # A local election (SPEC §14): the voter's list precinct lies outside its territory, or
    # the voter is registered only abroad.
    OUTSIDE_TERRITORY = "OUTSIDE_TERRITORY"
    UNDER_18 = "UNDER_18"


class NextStepCode(StrEnum):
    APPLY_TO_COMMISSION = "APPLY_TO_COMMISSION"
    DAY_REGISTRATION_AVAILABLE = "DAY_REGISTRATION_AVAILABLE"
    NO_PRECINCT_FOR_ADDRESS = "NO_PRECINCT_FOR_ADDRESS"
    # An absentee certificate holder not yet added to a list: they present it at a precinct
    # of the territory outside their home precinct's locality (SPEC §15 way 4).
    VOTE_WITH_ABSENTEE_CERTIFICATE = "VOTE_WITH_ABSENTEE_CERTIFICATE"


class ListEntryKind(StrEnum):
    """The recorded ways onto a list of SPEC §15 (ways 2-4 and 6; day registrations, way 5,
    keep their own record)."""

    SPECIAL_PRESENCE = "special_presence"
    PLACE_OF_STAY_APPLICATION = "place_of_stay_application"
    ABSENTEE_CERTIFICATE = "absentee_certificate"
    MISSION_APPLICATION = "mission_application"


class ListEntryStatus(StrEnum):
    """Where a list entry stands: active until two operators cancel it."""

    ACTIVE = "active"
    CANCELLED = "cancelled"


class HolderKind(StrEnum):
    """What holds a voter's one place on a list of an election (SPEC §15).

    An active override holds it whatever its kind: an assignment or inclusion puts the voter
    on a list, an exclusion keeps them off every list, and either way no other record may
    place them while it is in force.
    """

    LIST_ENTRY = "list_entry"
    DAY_REGISTRATION = "day_registration"
    OVERRIDE = "override"


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


# The 2026 Constitution: in force from this day; one chamber (the Kurultai) instead of the
# Mazhilis and the Senate.
CONSTITUTION_2026_FROM = dt.date(2026, 7, 1)
# The §10 name of a parliamentary election, before there were kinds: mapped by voting day.
PARLIAMENTARY = "parliamentary"


class ElectionKind(StrEnum):
    """Who votes in an election, and where (SPEC §14)."""

    PRESIDENTIAL = "presidential"
    KURULTAI = "kurultai"
    MAZHILIS = "mazhilis"
    REFERENDUM = "referendum"
    SENATE = "senate"
    MASLIKHAT = "maslikhat"
    AKIM = "akim"

    @property
    def is_by_citizens(self) -> bool:
        """False for the Senate: maslikhat deputies elect it, not the voters."""
        return self is not ElectionKind.SENATE

    @property
    def is_local(self) -> bool:
        """Voters of a territory only: the election record lists its KATO prefixes."""
        return self in (ElectionKind.MASLIKHAT, ElectionKind.AKIM)

    @property
    def votes_abroad(self) -> bool:
        """Whether the missions abroad (foreign precincts) hold this election."""
        return self.is_by_citizens and not self.is_local

    @classmethod
    def named(cls, name: str, *, voting_day: dt.date) -> ElectionKind:
        """The kind an election record names, ``parliamentary`` resolved by voting day.

        ValueError, saying why, for a name outside the closed list or a chamber that does
        not exist on that voting day.
        """
        before = voting_day < CONSTITUTION_2026_FROM
        if name == PARLIAMENTARY:
            return cls.MAZHILIS if before else cls.KURULTAI
        try:
            kind = cls(name)
        except ValueError:
            known = ", ".join([*(k.value for k in cls), PARLIAMENTARY])
            raise ValueError(f"unknown election kind {name!r}; one of {known}") from None
        if kind is cls.KURULTAI and before:
            raise ValueError(f"kurultai elections are held from {CONSTITUTION_2026_FROM} on")
        if kind in (cls.MAZHILIS, cls.SENATE) and not before:
            raise ValueError(f"{kind.value} elections were held before {CONSTITUTION_2026_FROM}")
        return kind


@dataclass(frozen=True, slots=True)
class RegistrationWindow:
    """Day registration: wall-clock times on voting day, local to the precinct."""

    opens: dt.time
    closes: dt.time


DEFAULT_WINDOW = RegistrationWindow(opens=dt.time(7, 0), closes=dt.time(20, 0))


@dataclass(frozen=True, slots=True)
class LocalWindow:
    """From ``opens`` (inclusive) to ``closes`` (exclusive): naive wall-clock date-times,
    read in the time zone of each precinct concerned (SPEC §15)."""

    opens: dt.datetime
    closes: dt.datetime


@dataclass(frozen=True, slots=True)
class Calendar:
    """The steps of SPEC §15 for one election, each in local time."""

    applications: LocalWindow
    lists_frozen_on: dt.date
    absentee_certificates: LocalWindow
    day_registration: LocalWindow
    presence_lists: LocalWindow
    # Read in the mission's zone.
    mission_applications: LocalWindow


@dataclass(frozen=True, slots=True)
class CalendarChanges:
    """What an election record sets instead of the defaults (None: the default)."""

    applications: LocalWindow | None = None
    lists_frozen_on: dt.date | None = None
    absentee_certificates: LocalWindow | None = None
    presence_lists: LocalWindow | None = None
    mission_applications: LocalWindow | None = None


# The defaults of SPEC §15, counted back from voting day E.
APPLICATIONS_CLOSE_DAYS_BEFORE = 30  # until 23:59 on E-30
LISTS_FROZEN_DAYS_BEFORE = 20  # E-20
CERTIFICATES_OPEN_DAYS_BEFORE = 15  # from 00:00 on E-15
CERTIFICATES_CLOSE = (1, dt.time(18, 0))  # until 18:00 on E-1
PRESENCE_LISTS_CLOSE = (1, dt.time(18, 0))  # until 18:00 on E-1
MISSION_APPLICATIONS_CLOSE = (1, dt.time(18, 0))  # until 18:00 on E-1, mission time


def _at(day: dt.date, time: dt.time = dt.time(0, 0)) -> dt.datetime:
    return dt.datetime.combine(day, time)


@dataclass(frozen=True, slots=True)
class Election:
    id: str
    kind: ElectionKind
    voting_day: dt.date
    day_registration: RegistrationWindow = DEFAULT_WINDOW
    # None only for an election published before records carried the date (SPEC §14).
    called_on: dt.date | None = None
    # KATO prefixes of a local election's territory; empty for the others.
    territory: tuple[str, ...] = ()
    calendar_changes: CalendarChanges = CalendarChanges()

    def covers_kato(self, kato: str | None) -> bool:
        """Whether an address or precinct with this KATO code lies in the territory."""
        if not self.kind.is_local:
            return True
        return kato is not None and kato.startswith(self.territory)

    def holds(self, precinct: Precinct) -> bool:
        """Whether this election is held at the precinct: abroad only for the kinds that
        vote abroad, at home only inside a local election's territory."""
        if precinct.kind is PrecinctKind.FOREIGN:
            return self.kind.votes_abroad
        return self.covers_kato(precinct.kato)

    @property
    def calendar(self) -> Calendar:
        """SPEC §15's defaults, with what the election record changed."""
        e = self.voting_day
        changes = self.calendar_changes
        # "Until 23:59 on E-30": the window closes as E-29 begins.
        applications_close = _at(e - dt.timedelta(days=APPLICATIONS_CLOSE_DAYS_BEFORE - 1))
        days_before, at = CERTIFICATES_CLOSE
        presence_days_before, presence_at = PRESENCE_LISTS_CLOSE
        mission_days_before, mission_at = MISSION_APPLICATIONS_CLOSE
        # From the call of the election; without a recorded call date, from the day the
        # lists are handed to the commissions.
        called = _at(self.called_on or e - dt.timedelta(days=LISTS_FROZEN_DAYS_BEFORE))
        return Calendar(
            applications=changes.applications
            or LocalWindow(
                # Without a recorded call date (an election published before records
                # carried one) the window is empty: when it opened is not known.
                opens=_at(self.called_on) if self.called_on else applications_close,
                closes=applications_close,
            ),
            lists_frozen_on=changes.lists_frozen_on
            or e - dt.timedelta(days=LISTS_FROZEN_DAYS_BEFORE),
            absentee_certificates=changes.absentee_certificates
            or LocalWindow(
                opens=_at(e - dt.timedelta(days=CERTIFICATES_OPEN_DAYS_BEFORE)),
                closes=_at(e - dt.timedelta(days=days_before), at),
            ),
            day_registration=LocalWindow(
                opens=_at(e, self.day_registration.opens),
                closes=_at(e, self.day_registration.closes),
            ),
            presence_lists=changes.presence_lists
            or LocalWindow(
                opens=called,
                closes=_at(e - dt.timedelta(days=presence_days_before), presence_at),
            ),
            mission_applications=changes.mission_applications
            or LocalWindow(
                opens=called,
                closes=_at(e - dt.timedelta(days=mission_days_before), mission_at),
            ),
        )


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
class ActiveListEntry:
    """An active (not cancelled) list entry of SPEC §15 for one voter and election.

    For an absentee certificate ``precinct_id`` is the home precinct whose commission issued
    it, and ``used_at`` the precinct where it was presented, once it has been.
    """

    id: str
    kind: ListEntryKind
    precinct_id: str
    used_at: str | None = None


@dataclass(frozen=True, slots=True)
class ListPlace:
    """The record holding a voter's place on a list: named in an ``ALREADY_ON_LIST``
    refusal (never the voter)."""

    holder_kind: HolderKind
    holder_id: str


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
