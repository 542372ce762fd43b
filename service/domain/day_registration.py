"""Who may be registered on voting day, and where (SPEC §6). Pure rules, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from service.domain.model import (
    HOME_COUNTRY,
    Basis,
    Decision,
    Election,
    ListPlace,
    Outcome,
    Precinct,
    ReasonCode,
    Registration,
    RegistrationKind,
)
from service.domain.window import registration_window


class RegistrationStatus(StrEnum):
    """Where a day registration stands: cancelled by an operator, lapsed after voting day,
    or active."""

    ACTIVE = "active"
    CANCELLED = "cancelled"
    LAPSED = "lapsed"


class DayRegistrationRefusal(StrEnum):
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    HAS_REGISTRATION = "HAS_REGISTRATION"
    ADDRESS_NOT_COVERED = "ADDRESS_NOT_COVERED"
    REGISTERED_ABROAD = "REGISTERED_ABROAD"
    PRECINCT_NOT_DESIGNATED = "PRECINCT_NOT_DESIGNATED"
    PRECINCT_OUTSIDE_TERRITORY = "PRECINCT_OUTSIDE_TERRITORY"
    REGISTRATION_CLOSED = "REGISTRATION_CLOSED"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    # Another way onto a list of the election holds the voter (SPEC §15).
    ALREADY_ON_LIST = "ALREADY_ON_LIST"


@dataclass(frozen=True, slots=True)
class Refusal:
    code: DayRegistrationRefusal
    reasons: tuple[ReasonCode, ...] = ()
    precinct_id: str | None = None
    holder: ListPlace | None = None


def precinct_refusal(*, election: Election, precinct: Precinct, now: dt.datetime) -> Refusal | None:
    """Checks that need no upstream: the precinct and the clock."""
    if not precinct.is_designated_for_day_registration:
        return Refusal(DayRegistrationRefusal.PRECINCT_NOT_DESIGNATED)
    if not election.holds(precinct):
        return Refusal(DayRegistrationRefusal.PRECINCT_OUTSIDE_TERRITORY)
    if not registration_window(election, precinct).contains(now):
        return Refusal(DayRegistrationRefusal.REGISTRATION_CLOSED)
    return None


def voter_refusal(
    decision: Decision, registrations: Sequence[Registration], *, voting_day: dt.date
) -> Refusal | None:
    """Only an eligible citizen with no registration anywhere may be registered on the day."""
    if decision.outcome is not Outcome.ELIGIBLE:
        return Refusal(DayRegistrationRefusal.NOT_ELIGIBLE, reasons=decision.reasons)
    valid = [r for r in registrations if r.is_valid_on(voting_day)]
    if any(r.kind is not RegistrationKind.CONSULAR and r.country == HOME_COUNTRY for r in valid):
        if decision.precinct_id is None:
            # Registered at an address no precinct covers: not theirs to register on the
            # day, and no precinct to send them to; an operator places them (an override).
            return Refusal(DayRegistrationRefusal.ADDRESS_NOT_COVERED)
        return Refusal(DayRegistrationRefusal.HAS_REGISTRATION, precinct_id=decision.precinct_id)
    if any(r.kind is RegistrationKind.CONSULAR for r in valid):
        return Refusal(DayRegistrationRefusal.REGISTERED_ABROAD, precinct_id=decision.precinct_id)
    if decision.basis is Basis.OVERRIDE and decision.precinct_id is not None:
        # An operator already placed this voter: they vote there, not at a day registration.
        return Refusal(DayRegistrationRefusal.HAS_REGISTRATION, precinct_id=decision.precinct_id)
    return None
