"""Reference data comes in versions (SPEC §16): what a new version changes, and what blocks it.

A new boundary set (or election set) never edits the one in force: it is compared with it,
and refused, naming every blocker, if it is empty or if it takes away a precinct (or an
election) that a live record still points to. Live records are the ones that put a voter
somewhere: pending and active overrides, and day registrations in force.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from service.domain.model import Election, Precinct, PrecinctKind


class LiveRecordKind(StrEnum):
    OVERRIDE = "override"
    DAY_REGISTRATION = "day_registration"
    PRESENCE_ENTRY = "presence_entry"
    # An absentee certificate not cancelled: its precinct is where it was used, or the
    # home precinct that issued it while unused.
    ABSENTEE_CERTIFICATE = "absentee_certificate"
    PLACE_OF_STAY_APPLICATION = "place_of_stay_application"
    MISSION_APPLICATION = "mission_application"


@dataclass(frozen=True, slots=True)
class LiveRecord:
    """A record in force that names an election and, perhaps, a precinct. No personal data."""

    kind: LiveRecordKind
    id: str
    election_id: str
    precinct_id: str | None


class BlockReason(StrEnum):
    PRECINCT_REMOVED = "precinct_removed"
    DAY_REGISTRATION_WITHDRAWN = "day_registration_withdrawn"
    NO_LONGER_SPECIAL = "no_longer_special"
    ELECTION_REMOVED = "election_removed"


@dataclass(frozen=True, slots=True)
class Blocker:
    record: LiveRecord
    reason: BlockReason


@dataclass(frozen=True)
class PrecinctChanges:
    """What a new boundary set changes, precinct ids sorted in each list."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    renamed: tuple[str, ...] = ()
    redesignated: tuple[str, ...] = ()
    boundaries_changed: tuple[str, ...] = ()
    unchanged: int = 0


@dataclass(frozen=True)
class ElectionChanges:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: int = 0


def _designation(p: Precinct) -> tuple[str, str, bool]:
    return (p.kind.value, p.country, p.day_registration)


def _boundary(p: Precinct) -> tuple[object, ...]:
    return (p.kato, p.city, p.segments, frozenset(p.buildings))


def precinct_changes(current: Iterable[Precinct], new: Iterable[Precinct]) -> PrecinctChanges:
    old_by_id = {p.id: p for p in current}
    new_by_id = {p.id: p for p in new}
    kept = sorted(old_by_id.keys() & new_by_id.keys())
    renamed = [
        i
        for i in kept
        if (old_by_id[i].name, old_by_id[i].number, old_by_id[i].address)
        != (new_by_id[i].name, new_by_id[i].number, new_by_id[i].address)
    ]
    redesignated = [i for i in kept if _designation(old_by_id[i]) != _designation(new_by_id[i])]
    moved = [i for i in kept if _boundary(old_by_id[i]) != _boundary(new_by_id[i])]
    changed = set(renamed) | set(redesignated) | set(moved)
    return PrecinctChanges(
        added=tuple(sorted(new_by_id.keys() - old_by_id.keys())),
        removed=tuple(sorted(old_by_id.keys() - new_by_id.keys())),
        renamed=tuple(renamed),
        redesignated=tuple(redesignated),
        boundaries_changed=tuple(moved),
        unchanged=len(kept) - len(changed),
    )


def precinct_blockers(new: Iterable[Precinct], live: Iterable[LiveRecord]) -> list[Blocker]:
    """The live records a boundary set would strand: their precinct is gone, or no longer
    takes what the record is (a day registration, a special precinct's presence entry)."""
    by_id = {p.id: p for p in new}
    blockers: list[Blocker] = []
    for record in live:
        if record.precinct_id is None:
            continue
        precinct = by_id.get(record.precinct_id)
        if precinct is None:
            blockers.append(Blocker(record, BlockReason.PRECINCT_REMOVED))
        elif record.kind is LiveRecordKind.DAY_REGISTRATION and not precinct.day_registration:
            blockers.append(Blocker(record, BlockReason.DAY_REGISTRATION_WITHDRAWN))
        elif (
            record.kind is LiveRecordKind.PRESENCE_ENTRY
            and precinct.kind is not PrecinctKind.SPECIAL
        ):
            blockers.append(Blocker(record, BlockReason.NO_LONGER_SPECIAL))
    return _ordered(blockers)


def election_changes(current: Iterable[Election], new: Iterable[Election]) -> ElectionChanges:
    old_by_id = {e.id: e for e in current}
    new_by_id = {e.id: e for e in new}
    kept = sorted(old_by_id.keys() & new_by_id.keys())
    changed = [i for i in kept if old_by_id[i] != new_by_id[i]]
    return ElectionChanges(
        added=tuple(sorted(new_by_id.keys() - old_by_id.keys())),
        removed=tuple(sorted(old_by_id.keys() - new_by_id.keys())),
        changed=tuple(changed),
        unchanged=len(kept) - len(changed),
    )


def election_blockers(new: Iterable[Election], live: Iterable[LiveRecord]) -> list[Blocker]:
    ids = {e.id for e in new}
    return _ordered(
        Blocker(record, BlockReason.ELECTION_REMOVED)
        for record in live
        if record.election_id not in ids
    )


def _ordered(blockers: Iterable[Blocker]) -> list[Blocker]:
    return sorted(blockers, key=lambda b: (b.record.kind.value, b.record.id, b.reason.value))
