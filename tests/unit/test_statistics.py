"""Public aggregates' rules (service.domain.statistics): which entries count where, and what
the public sees of a small count."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.statistics import (
    SMALL_COUNT,
    DecisionKey,
    decision_key,
    fold,
    published,
)


@pytest.mark.parametrize(("count", "shown"), [(1, None), (9, None), (10, 10), (11, 11)])
def test_a_count_below_ten_is_suppressed(count: int, shown: int | None) -> None:
    assert SMALL_COUNT == 10
    assert published(count) == shown


def test_a_decision_counts_under_the_precinct_it_placed_the_voter_at() -> None:
    payload = {
        "election_id": "2027-president",
        "checked_precinct_id": "75-0009",  # Service A's asking precinct: not where it counts
        "precinct_id": "75-0001",
        "outcome": "eligible",
        "basis": "permanent_registration",
    }

    assert decision_key("precinct.check", payload) == DecisionKey(
        "2027-president", "75-0001", "precinct_check", "eligible", "permanent_registration"
    )


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("override.create", {"election_id": "e", "outcome": "eligible"}),
        ("eligibility.check", {"outcome": "eligible"}),
        ("eligibility.check", {"election_id": 7, "outcome": "eligible"}),
        ("roll.decision", {"election_id": "e"}),
    ],
)
def test_an_entry_that_is_no_decision_or_is_malformed_is_not_counted(
    kind: str, payload: dict[str, Any]
) -> None:
    assert decision_key(kind, payload) is None


DECISION = st.fixed_dictionaries(
    {
        "election_id": st.sampled_from(["a", "b"]),
        "outcome": st.sampled_from(["eligible", "ineligible", "undetermined"]),
    },
    optional={
        "precinct_id": st.none() | st.sampled_from(["75-0001", "75-0002"]),
        "basis": st.none() | st.sampled_from(["override", "special_presence"]),
    },
)
KIND = st.sampled_from(["eligibility.check", "precinct.check", "roll.decision", "override.create"])


@given(st.lists(st.tuples(KIND, DECISION), max_size=60), st.integers(0, 60))
def test_folding_in_any_batches_gives_the_counts_of_folding_at_once(
    entries: list[tuple[str, dict[str, Any]]], cut: int
) -> None:
    whole = fold(entries)
    parts = fold(entries[:cut]) + fold(entries[cut:])

    assert parts == whole
    assert sum(whole.values()) == sum(1 for kind, _ in entries if kind != "override.create")
