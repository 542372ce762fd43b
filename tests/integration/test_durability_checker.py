"""The checker of the crash and storage-failure tests finds what it is there to find.

Its negative control in the crash test shows it catches lost acknowledgements; these show it
catches a half-recorded decision (an audit entry without its decision row, or the reverse)
and a receipt the log does not hold, on a real database.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from service.audit.log import AuditLog, Receipt
from service.audit.pseudonym import pseudonymise
from service.audit.signing import CheckpointSigner
from service.db.engine import open_database, write_session
from service.db.migrations import create_schema
from service.db.tables import DecisionRow
from service.usecases.eligibility import DECISION_KIND
from tests.durability import Acknowledged, check_durability
from tests.support import ELECTION_ID, NOW, PEOPLE, Keys

SUBJECT = pseudonymise(PEOPLE["eligible_permanent"]["iin"], key=b"checker-test-hmac-key")


def _entry(session: Session, audit_log: AuditLog, decision_id: str) -> Receipt:
    return audit_log.append(
        session,
        kind=DECISION_KIND,
        subject=SUBJECT,
        payload={"decision_id": decision_id, "outcome": "eligible"},
        recorded_at=NOW,
    )


def _decision_row(decision_id: str, audit_seq: int) -> DecisionRow:
    return DecisionRow(
        decision_id=decision_id,
        kind=DECISION_KIND,
        election_id=ELECTION_ID,
        subject=SUBJECT,
        outcome="eligible",
        decided_at=NOW,
        audit_seq=audit_seq,
        body="{}",
    )


def _recorded(database_url: str, keys: Keys) -> tuple[Acknowledged, Receipt]:
    """One whole decision, one entry without its row, one row without its entry."""
    database = open_database(database_url)
    create_schema(database)
    audit_log = AuditLog(CheckpointSigner(keys.audit_signing))
    whole, half = str(uuid.uuid4()), str(uuid.uuid4())
    with write_session(database) as session:
        receipt = _entry(session, audit_log, whole)
        session.add(_decision_row(whole, receipt.seq))
        orphan = _entry(session, audit_log, half)
        session.add(_decision_row("decision-whose-entry-never-came", orphan.seq + 100))
    database.dispose()
    return Acknowledged(whole, receipt.seq, receipt.entry_hash), orphan


def test_checker_reports_entries_and_decisions_that_do_not_match_one_to_one(
    database_url: str, keys: Keys
) -> None:
    acknowledged, orphan = _recorded(database_url, keys)
    report = check_durability(
        database_url, acknowledged=[acknowledged], checkpoint_public_key=keys.audit_public
    )
    assert report.lost == []
    assert report.entries_without_decision == [orphan.seq]
    assert report.decisions_without_entry == ["decision-whose-entry-never-came"]
    assert report.chain.ok
    assert not report.ok


def test_checker_reports_a_receipt_the_log_does_not_hold(database_url: str, keys: Keys) -> None:
    acknowledged, orphan = _recorded(database_url, keys)
    forged = Acknowledged(acknowledged.decision_id, acknowledged.seq, "0" * 64)
    elsewhere = Acknowledged(acknowledged.decision_id, orphan.seq, orphan.entry_hash)
    never = Acknowledged(str(uuid.uuid4()), orphan.seq + 1, "f" * 64)
    report = check_durability(
        database_url,
        acknowledged=[acknowledged, forged, elsewhere, never],
        checkpoint_public_key=keys.audit_public,
    )
    assert report.lost == [forged, elsewhere, never]
