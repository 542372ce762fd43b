"""What no crash or storage failure may break, checked from the database alone.

Shared by the crash-durability test, its negative control and the storage-failure tests:
every decision acknowledged to a client is committed with the receipt the client was given,
decision rows and decision audit entries match one to one, and the chain verifies against its
signed checkpoints. The checker reports what it found rather than asserting, so the negative
control can show that it does find lost acknowledgements.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from service.audit.chain import VerifyReport
from service.audit.signing import CheckpointVerifier
from service.audit.tables import AuditEntryRow
from service.audit.verify import verify_database
from service.db.engine import open_database, read_session
from service.db.tables import DecisionRow
from service.usecases.eligibility import DECISION_KIND, PRECINCT_CHECK_KIND

# The audit kinds that come with a row in `decisions` (Recorder.record_decision).
DECISION_KINDS = (DECISION_KIND, PRECINCT_CHECK_KIND)


@dataclass(frozen=True)
class Acknowledged:
    """What a client was told: this decision exists, at this place in the chain."""

    decision_id: str
    seq: int
    entry_hash: str

    @classmethod
    def from_response_body(cls, body: Mapping[str, Any]) -> Acknowledged:
        return cls(
            decision_id=body["decision_id"],
            seq=body["audit"]["seq"],
            entry_hash=body["audit"]["entry_hash"],
        )


@dataclass(frozen=True)
class DurabilityReport:
    lost: list[Acknowledged]
    entries_without_decision: list[int]
    decisions_without_entry: list[str]
    chain: VerifyReport
    decisions: int
    decision_entries: int

    @property
    def ok(self) -> bool:
        return (
            not self.lost
            and not self.entries_without_decision
            and not self.decisions_without_entry
            and self.chain.ok
            and self.decisions == self.decision_entries
        )

    def describe(self) -> str:
        lost = ", ".join(f"{a.decision_id} (seq {a.seq})" for a in self.lost[:5])
        return (
            f"{len(self.lost)} acknowledged decisions lost [{lost}]; "
            f"{self.decisions} decisions vs {self.decision_entries} decision audit entries; "
            f"entries without decision {self.entries_without_decision[:5]}; "
            f"decisions without entry {self.decisions_without_entry[:5]}; "
            f"chain ok={self.chain.ok} ({self.chain.entries_checked} entries, "
            f"problem {self.chain.problem}, first bad seq {self.chain.first_bad_seq})"
        )


def check_durability(
    database_url: str, *, acknowledged: Iterable[Acknowledged], checkpoint_public_key: str
) -> DurabilityReport:
    """Hold the stored decisions and audit log against what clients were acknowledged."""
    database = open_database(database_url)
    try:
        with read_session(database) as session:
            entry_rows = session.exec(
                select(AuditEntryRow.seq, AuditEntryRow.entry_hash, AuditEntryRow.body).where(
                    col(AuditEntryRow.kind).in_(DECISION_KINDS)
                )
            ).all()
            decision_rows = session.exec(
                select(DecisionRow.decision_id, DecisionRow.audit_seq)
            ).all()
        chain = verify_database(database, verifier=CheckpointVerifier(checkpoint_public_key))
    finally:
        database.dispose()

    # seq -> (entry hash, the decision id its payload names)
    entries = {
        seq: (digest, json.loads(body)["payload"].get("decision_id"))
        for seq, digest, body in entry_rows
    }
    decisions = dict(decision_rows)
    lost = [
        ack
        for ack in acknowledged
        if entries.get(ack.seq) != (ack.entry_hash, ack.decision_id)
        or decisions.get(ack.decision_id) != ack.seq
    ]
    return DurabilityReport(
        lost=lost,
        entries_without_decision=sorted(
            seq for seq, (_, named) in entries.items() if decisions.get(named) != seq
        ),
        decisions_without_entry=sorted(
            decision_id
            for decision_id, seq in decisions.items()
            if seq not in entries or entries[seq][1] != decision_id
        ),
        chain=chain,
        decisions=len(decisions),
        decision_entries=len(entries),
    )
