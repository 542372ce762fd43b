"""A citizen's view of who touched their record (SPEC §17, issue 14): the audit entries filed
under their pseudonym, read as accesses.

An access says when, what kind of action (a look-up, a decision, a change), for what purpose,
by which role and organisation, and with what outcome. It never says which account: the
audit entry keeps that for investigators; the citizen learns the organisation, as Estonia's
Data Tracker shows the agency and not the official. Every entry under the pseudonym becomes
an access, of kinds this module has not heard of too (purpose ``OTHER``, the kind shown):
an access the table forgot is never hidden.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class AccessAction(StrEnum):
    LOOKUP = "lookup"  # read the record, decided nothing
    DECISION = "decision"  # decided eligibility and precinct
    CHANGE = "change"  # made, changed or undid a record about the citizen


class Purpose(StrEnum):
    ELIGIBILITY_CHECK = "ELIGIBILITY_CHECK"
    PRECINCT_CHECK = "PRECINCT_CHECK"
    VOTER_LIST_COMPILATION = "VOTER_LIST_COMPILATION"
    DAY_REGISTRATION = "DAY_REGISTRATION"
    MANUAL_CORRECTION = "MANUAL_CORRECTION"
    LIST_ENTRY = "LIST_ENTRY"
    RECORD_SEARCH = "RECORD_SEARCH"
    ACCESS_LOG = "ACCESS_LOG"
    OTHER = "OTHER"


# The roll compiler decides for the whole country under the election commission's run; no
# token is involved, so its entries name no actor.
SYSTEM_ROLE = "system"

_BY_KIND: dict[str, tuple[Purpose, AccessAction]] = {
    "eligibility.check": (Purpose.ELIGIBILITY_CHECK, AccessAction.DECISION),
    "precinct.check": (Purpose.PRECINCT_CHECK, AccessAction.DECISION),
    "roll.decision": (Purpose.VOTER_LIST_COMPILATION, AccessAction.DECISION),
    "access_log.read": (Purpose.ACCESS_LOG, AccessAction.LOOKUP),
}
# By the kind's first part, for the families of record kinds ("override.approve", ...).
_BY_FAMILY: dict[str, Purpose] = {
    "day_registration": Purpose.DAY_REGISTRATION,
    "override": Purpose.MANUAL_CORRECTION,
    "list_entry": Purpose.LIST_ENTRY,
    "absentee_certificate": Purpose.LIST_ENTRY,
}


@dataclass(frozen=True)
class TrailEntry:
    """An audit entry filed under the citizen's pseudonym, as the log holds it."""

    seq: int
    kind: str
    recorded_at: dt.datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Access:
    seq: int
    at: dt.datetime
    kind: str
    action: AccessAction
    purpose: Purpose
    roles: tuple[str, ...]
    organisation: str | None
    outcome: str | None


def purpose_of(kind: str) -> tuple[Purpose, AccessAction]:
    """What an entry of ``kind`` was for, and whether it looked, decided or changed."""
    known = _BY_KIND.get(kind)
    if known is not None:
        return known
    family, _, rest = kind.partition(".")
    if rest == "lookup" or rest.endswith(".lookup"):
        return Purpose.RECORD_SEARCH, AccessAction.LOOKUP
    purpose = _BY_FAMILY.get(family)
    if purpose is not None:
        return purpose, AccessAction.CHANGE
    return Purpose.OTHER, AccessAction.CHANGE


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def access_of(entry: TrailEntry) -> Access:
    """The access an audit entry records; the account in ``actor.sub`` is left out."""
    purpose, action = purpose_of(entry.kind)
    actor = entry.payload.get("actor")
    if isinstance(actor, Mapping):
        listed = actor.get("roles")
        named = listed if isinstance(listed, list) else []
        roles = tuple(sorted(r for r in named if isinstance(r, str)))
        organisation = _text(actor.get("org"))
    else:
        roles, organisation = ((SYSTEM_ROLE,) if entry.kind.startswith("roll.") else ()), None
    return Access(
        seq=entry.seq,
        at=entry.recorded_at,
        kind=entry.kind,
        action=action,
        purpose=purpose,
        roles=roles,
        organisation=organisation,
        outcome=_text(entry.payload.get("outcome")),
    )
