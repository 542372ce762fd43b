"""Public aggregates of an election (SPEC §17): counts with no personal data, small ones
suppressed.

Two kinds of count, per election and precinct:
- **decisions** by source (the online check, Service A, the voter-list compiler), outcome and
  basis, folded from the audit log's decision entries. A decision is counted under the
  precinct it placed the voter at (none for an ineligible voter or one with no precinct), so
  Service A's checks are counted under the voter's precinct, not the one that asked;
- **list entries** in force by kind (SPEC §15's ways 2-6 that have records).

A count below ``SMALL_COUNT`` is published as suppressed, never as its number, and no total
is published beside the cells (a total less the shown cells would give a suppressed one
back): the public sees only cells of ten or more, or that a cell exists and is small.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SMALL_COUNT = 10
# The audit entry kinds that record a decision about a voter, by the source they count as.
DECISION_SOURCES = {
    "eligibility.check": "check",
    "precinct.check": "precinct_check",
    "roll.decision": "voter_lists",
}


@dataclass(frozen=True, order=True)
class DecisionKey:
    election_id: str
    precinct_id: str  # "" for none
    source: str
    outcome: str
    basis: str  # "" for none


@dataclass(frozen=True, order=True)
class EntryKey:
    precinct_id: str
    kind: str


def decision_key(kind: str, payload: Mapping[str, Any]) -> DecisionKey | None:
    """Where a decision entry counts, or None for an entry that is no decision, or one too
    malformed to count (an entry written by hand, an old shape)."""
    source = DECISION_SOURCES.get(kind)
    if source is None:
        return None
    election_id, outcome = payload.get("election_id"), payload.get("outcome")
    precinct_id, basis = payload.get("precinct_id"), payload.get("basis")
    if not isinstance(election_id, str) or not isinstance(outcome, str):
        return None
    return DecisionKey(
        election_id=election_id,
        precinct_id=precinct_id if isinstance(precinct_id, str) else "",
        source=source,
        outcome=outcome,
        basis=basis if isinstance(basis, str) else "",
    )


def fold(entries: Iterable[tuple[str, Mapping[str, Any]]]) -> Counter[DecisionKey]:
    """The decision counts that (kind, payload) entries add."""
    counts: Counter[DecisionKey] = Counter()
    for kind, payload in entries:
        key = decision_key(kind, payload)
        if key is not None:
            counts[key] += 1
    return counts


def published(count: int) -> int | None:
    """What the public sees of a count: itself from ``SMALL_COUNT`` up, else None."""
    return count if count >= SMALL_COUNT else None
