"""What a new reference version changes and what blocks it (SPEC §16): the pure rules."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from service.domain.model import Election, ElectionKind
from service.domain.reference_versions import (
    BlockReason,
    LiveRecord,
    LiveRecordKind,
    election_blockers,
    election_changes,
    precinct_blockers,
    precinct_changes,
)
from tests.unit.factories import ELECTION, precinct

IDS = [f"75-{n:04d}" for n in range(1, 13)]


def day_registration(record_id: str, precinct_id: str) -> LiveRecord:
    return LiveRecord(LiveRecordKind.DAY_REGISTRATION, record_id, ELECTION.id, precinct_id)


def override(record_id: str, precinct_id: str | None) -> LiveRecord:
    return LiveRecord(LiveRecordKind.OVERRIDE, record_id, ELECTION.id, precinct_id)


@given(
    old=st.sets(st.sampled_from(IDS)),
    new=st.sets(st.sampled_from(IDS)),
    renamed=st.sets(st.sampled_from(IDS)),
)
def test_the_diff_accounts_for_every_precinct_once(
    old: set[str], new: set[str], renamed: set[str]
) -> None:
    current = [precinct(i) for i in sorted(old)]
    proposed = [precinct(i, name="renamed") if i in renamed else precinct(i) for i in sorted(new)]
    changes = precinct_changes(current, proposed)
    assert set(changes.added) == new - old
    assert set(changes.removed) == old - new
    assert set(changes.renamed) == new & old & renamed
    assert changes.unchanged == len((new & old) - renamed)
    assert changes.redesignated == ()
    assert changes.boundaries_changed == ()


@given(ids=st.sets(st.sampled_from(IDS), min_size=1))
def test_a_set_compared_with_itself_changes_nothing(ids: set[str]) -> None:
    same = [precinct(i) for i in sorted(ids)]
    assert precinct_changes(same, same).unchanged == len(ids)
    assert precinct_blockers(same, [override(f"o-{i}", i) for i in ids]) == []


def test_a_designation_and_a_boundary_change_are_told_apart() -> None:
    before = [precinct("75-0001"), precinct("75-0002")]
    after = [precinct("75-0001", day_registration=True), precinct("75-0002", buildings=("R-9",))]
    changes = precinct_changes(before, after)
    assert changes.redesignated == ("75-0001",)
    assert changes.boundaries_changed == ("75-0002",)


def test_removing_a_precinct_a_live_record_points_to_is_blocked_naming_each_record() -> None:
    live = [
        day_registration("reg-1", "75-0002"),
        override("ovr-1", "75-0003"),
        override("ovr-2", None),  # an include or exclude names no precinct
        day_registration("reg-2", "75-0001"),
    ]
    blockers = precinct_blockers([precinct("75-0001", day_registration=True)], live)
    assert [(b.record.id, b.reason) for b in blockers] == [
        ("reg-1", BlockReason.PRECINCT_REMOVED),
        ("ovr-1", BlockReason.PRECINCT_REMOVED),
    ]


def test_stopping_day_registration_where_a_voter_is_registered_is_blocked() -> None:
    blockers = precinct_blockers(
        [precinct("75-0002", day_registration=False)],
        [day_registration("reg-1", "75-0002"), override("ovr-1", "75-0002")],
    )
    assert [(b.record.id, b.reason) for b in blockers] == [
        ("reg-1", BlockReason.DAY_REGISTRATION_WITHDRAWN)
    ]


def test_an_election_with_live_records_cannot_be_dropped_but_may_change() -> None:
    moved = Election(id=ELECTION.id, kind=ELECTION.kind, voting_day=dt.date(2027, 3, 28))
    other = Election(
        id="2027-maslikhat",
        kind=ElectionKind.MASLIKHAT,
        voting_day=dt.date(2027, 3, 21),
        territory=("75",),
    )
    live = [override("ovr-1", None)]
    assert election_blockers([moved], live) == []
    assert election_changes([ELECTION], [moved, other]).changed == (ELECTION.id,)
    blockers = election_blockers([other], live)
    assert [(b.record.id, b.reason) for b in blockers] == [("ovr-1", BlockReason.ELECTION_REMOVED)]
