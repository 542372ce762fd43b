"""Who may vote (SPEC §3), evaluated for one election as of its voting day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from service.domain.model import (
    CONSTITUTION_2026_FROM,
    HOME_COUNTRY,
    Custody,
    LegalCapacity,
    Person,
    ReasonCode,
)

VOTING_AGE_YEARS = 18


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The legal references in force for a voting day. Each decision records its version."""

    version: str
    in_force_from: dt.date
    legal_basis: Mapping[ReasonCode, str]


CONSTITUTION_1995 = RuleSet(
    version="kz-1995.1",
    in_force_from=dt.date.min,
    legal_basis={
        ReasonCode.NOT_CITIZEN: "Constitution 1995 Art. 33, Art. 10",
        ReasonCode.UNDER_18: "Law on Elections Art. 4",
        ReasonCode.INCAPACITATED_BY_COURT: "Constitution 1995 Art. 33 p.3",
        ReasonCode.IMPRISONED_BY_SENTENCE: "Constitution 1995 Art. 33 p.3",
    },
)

CONSTITUTION_2026 = RuleSet(
    version="kz-2026.1",
    in_force_from=CONSTITUTION_2026_FROM,
    legal_basis={
        ReasonCode.NOT_CITIZEN: "Constitution 2026 (citizenship and electoral rights)",
        ReasonCode.UNDER_18: "Law on Elections Art. 4",
        ReasonCode.INCAPACITATED_BY_COURT: "Constitution 2026 (electoral rights)",
        ReasonCode.IMPRISONED_BY_SENTENCE: "Constitution 2026 (electoral rights)",
    },
)

_RULE_SETS = (CONSTITUTION_2026, CONSTITUTION_1995)


def ruleset_for(voting_day: dt.date) -> RuleSet:
    return next(rs for rs in _RULE_SETS if voting_day >= rs.in_force_from)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def coming_of_age(birth_date: dt.date) -> dt.date:
    """The day a person turns 18; someone born on 29 February comes of age on 28 February."""
    year = birth_date.year + VOTING_AGE_YEARS
    if birth_date.month == 2 and birth_date.day == 29 and not _is_leap(year):
        return dt.date(year, 2, 28)
    return birth_date.replace(year=year)


def reasons_against(person: Person | None, *, voting_day: dt.date) -> tuple[ReasonCode, ...]:
    """Every reason this person may not vote on voting_day, sorted; empty if eligible."""
    if person is None:
        return (ReasonCode.NOT_FOUND,)
    found: set[ReasonCode] = set()
    if person.death_date is not None and person.death_date <= voting_day:
        found.add(ReasonCode.DECEASED)
    if person.citizenship != HOME_COUNTRY:
        found.add(ReasonCode.NOT_CITIZEN)
    if coming_of_age(person.birth_date) > voting_day:
        found.add(ReasonCode.UNDER_18)
    if person.legal_capacity is LegalCapacity.INCAPACITATED:
        found.add(ReasonCode.INCAPACITATED_BY_COURT)
    # Pre-trial detention is not a bar: only a sentence served in custody is.
    if person.custody is Custody.SENTENCED:
        found.add(ReasonCode.IMPRISONED_BY_SENTENCE)
    return tuple(sorted(found))
