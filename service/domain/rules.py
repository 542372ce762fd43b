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
    """The legal references in force for a voting day. Each decision records its version.

    ``legal_basis`` names the provisions behind each reason; where an article number could
    not be confirmed against the published text, the entry says so instead of guessing one.
    ``NOT_FOUND`` and ``DECEASED`` are facts of the registry, not bars of law: no entry.
    The version names the whole decision's logic too, placement included, so an auditor can
    tell which rules decided an entry: ``.3`` adds territory (SPEC §14) and the placement of
    SPEC §15 way 7 (missions by country, consular after permanent, falling through an
    address no precinct covers).
    """

    version: str
    in_force_from: dt.date
    legal_basis: Mapping[ReasonCode, str]


# Constitution of 30 August 1995, Art. 33: p.2 gives citizens the right to elect, p.3 takes
# it from those a court declared incapable and those held in places of deprivation of
# liberty by a court sentence. Constitutional Law "On Elections in the Republic of
# Kazakhstan" of 28 September 1995 No. 2464, Art. 4 ("universal suffrage"): p.1 the vote at
# eighteen, p.3 the same two bars.
_ELECTIONS_LAW = "Constitutional Law On Elections of 28.09.1995 No. 2464"

CONSTITUTION_1995 = RuleSet(
    version="kz-1995.3",
    in_force_from=dt.date.min,
    legal_basis={
        ReasonCode.NOT_CITIZEN: f"Constitution 1995 Art. 33 p.2; {_ELECTIONS_LAW} Art. 4 p.1",
        ReasonCode.UNDER_18: f"{_ELECTIONS_LAW} Art. 4 p.1",
        ReasonCode.INCAPACITATED_BY_COURT: (
            f"Constitution 1995 Art. 33 p.3; {_ELECTIONS_LAW} Art. 4 p.3"
        ),
        ReasonCode.IMPRISONED_BY_SENTENCE: (
            f"Constitution 1995 Art. 33 p.3; {_ELECTIONS_LAW} Art. 4 p.3"
        ),
    },
)

# The Constitution adopted by the referendum of 15 March 2026, in force from 1 July 2026.
# Its article on electoral rights could not be confirmed against the official text (reports
# of the draft published on 12 February 2026 disagree on the number), nor whether Art. 4 of
# the 1995 law keeps its numbering under it: the entries say so rather than cite a number.
_UNCONFIRMED = "article number not confirmed"

CONSTITUTION_2026 = RuleSet(
    version="kz-2026.3",
    in_force_from=CONSTITUTION_2026_FROM,
    legal_basis={
        ReasonCode.NOT_CITIZEN: (
            f"Constitution 2026, electoral rights of citizens ({_UNCONFIRMED}); "
            f"{_ELECTIONS_LAW} Art. 4 p.1 as in force on voting day ({_UNCONFIRMED})"
        ),
        ReasonCode.UNDER_18: (
            f"{_ELECTIONS_LAW} Art. 4 p.1 as in force on voting day ({_UNCONFIRMED})"
        ),
        ReasonCode.INCAPACITATED_BY_COURT: (
            f"Constitution 2026, who may not elect ({_UNCONFIRMED}); "
            f"{_ELECTIONS_LAW} Art. 4 p.3 as in force on voting day ({_UNCONFIRMED})"
        ),
        ReasonCode.IMPRISONED_BY_SENTENCE: (
            f"Constitution 2026, who may not elect ({_UNCONFIRMED}); "
            f"{_ELECTIONS_LAW} Art. 4 p.3 as in force on voting day ({_UNCONFIRMED})"
        ),
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


def holds_on(day: dt.date, *, since: dt.date | None, until: dt.date | None) -> bool:
    """Whether a dated registry fact holds on ``day``: from ``since`` (None: always had)
    up to the day before ``until`` (None: still holds). On ``until`` itself it has ended."""
    return (since is None or since <= day) and (until is None or day < until)


def is_incapacitated_on(person: Person, day: dt.date) -> bool:
    """Declared incapable by a court and not yet restored on ``day`` (SPEC §15).

    A restoration date marks an incapacity even when the registry's status is already
    ``full`` again: it tells when the person was incapable, for a voting day before it.
    """
    declared = (
        person.legal_capacity is LegalCapacity.INCAPACITATED
        or person.capacity_restored_on is not None
    )
    return declared and holds_on(
        day, since=person.incapacitated_since, until=person.capacity_restored_on
    )


def is_serving_sentence_on(person: Person, day: dt.date) -> bool:
    """Held by a court sentence on ``day``; pre-trial detention never counts (SPEC §3).

    As for capacity, a sentence end with custody ``none`` is a sentence already served.
    """
    sentenced = person.custody is Custody.SENTENCED or (
        person.custody is Custody.NONE and person.sentence_ends_on is not None
    )
    return sentenced and holds_on(day, since=person.custody_since, until=person.sentence_ends_on)


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
    if is_incapacitated_on(person, voting_day):
        found.add(ReasonCode.INCAPACITATED_BY_COURT)
    if is_serving_sentence_on(person, voting_day):
        found.add(ReasonCode.IMPRISONED_BY_SENTENCE)
    return tuple(sorted(found))
