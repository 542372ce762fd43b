"""The audit log on a real SQLite file: appending, checkpoints, tampering, export, concurrency.

Tampering goes through the stdlib ``sqlite3`` module, as an attacker holding the file would:
they drop the append-only triggers first, and the hash chain still gives them away.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session

from service.audit.chain import (
    ChainEntry,
    Problem,
    VerifyReport,
    canonical_body,
    checkpoint_message,
    entry_hash,
)
from service.audit.export import export_log
from service.audit.log import AuditLog, NewEntry, Receipt
from service.audit.note import DEFAULT_ORIGIN, NoteSigner, parse_note, sign_note
from service.audit.pseudonym import pseudonymise
from service.audit.signing import CheckpointSigner, CheckpointVerifier, generate_signing_key
from service.audit.verify import verify_database, verify_export
from service.clock import SystemClock
from service.db.engine import Database, open_database, read_session, write_session
from service.db.migrations import create_schema
from service.domain.model import Outcome
from tests.clocks import FakeClock

HMAC_KEY = b"integration-test-hmac-key"
CLOCK_START = datetime(2026, 8, 30, 7, 0, tzinfo=UTC)
# Real time in these tests: hours after the service clock, so that the two cannot be confused.
WALL_START = datetime(2026, 8, 30, 11, 0, tzinfo=UTC)
CHECKPOINT_EVERY = 5


class Rollback(Exception):
    """Raised inside a write session to make it roll back."""


@pytest.fixture(scope="module")
def signer() -> CheckpointSigner:
    return CheckpointSigner(generate_signing_key())


@pytest.fixture(scope="module")
def verifier(signer: CheckpointSigner) -> CheckpointVerifier:
    return CheckpointVerifier(signer.public_key_pem)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "voter.db"


@pytest.fixture
def database(db_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{db_path}")
    create_schema(db)
    yield db
    db.dispose()


@pytest.fixture
def wall() -> FakeClock:
    """Real time, in epoch seconds, moved by hand."""
    return FakeClock(WALL_START.timestamp())


@pytest.fixture
def audit(signer: CheckpointSigner, wall: FakeClock) -> AuditLog:
    return AuditLog(signer, checkpoint_every=CHECKPOINT_EVERY, wall_clock=SystemClock(wall))


def real(seconds: float) -> datetime:
    return WALL_START + timedelta(seconds=seconds)


def at(n: int) -> datetime:
    return CLOCK_START + timedelta(seconds=n)


def append_one(audit: AuditLog, session: Session, n: int) -> Receipt:
    return audit.append(
        session,
        kind="eligibility.check",
        subject=pseudonymise(f"{900101300000 + n}", key=HMAC_KEY),
        payload={"outcome": "eligible", "reasons": [], "request_id": f"req-{n}"},
        recorded_at=at(n),
    )


def append_many(
    database: Database, audit: AuditLog, count: int, *, per_transaction: int = 1
) -> list[Receipt]:
    receipts: list[Receipt] = []
    while len(receipts) < count:
        with write_session(database) as session:
            for _ in range(min(per_transaction, count - len(receipts))):
                receipts.append(append_one(audit, session, len(receipts) + 1))
    return receipts


@contextmanager
def tampering(db_path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(db_path, isolation_level=None)
    try:
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall():
            connection.execute(f'DROP TRIGGER "{name}"')
        yield connection
    finally:
        connection.close()


def row(connection: sqlite3.Connection, seq: int) -> tuple[str, str, str]:
    found = connection.execute(
        "SELECT prev_hash, entry_hash, body FROM audit_entries WHERE seq = ?", (seq,)
    ).fetchone()
    assert found is not None
    prev_hash, digest, body = found
    return str(prev_hash), str(digest), str(body)


def move_rows(connection: sqlite3.Connection, *, from_seq: int, by: int) -> None:
    # Two steps through a far-away range, so the primary key never collides mid-update.
    far = 1_000_000
    connection.execute("UPDATE audit_entries SET seq = seq + ? WHERE seq >= ?", (far, from_seq))
    connection.execute("UPDATE audit_entries SET seq = seq - ? WHERE seq >= ?", (far - by, far))


def caught(report: VerifyReport) -> tuple[int | None, Problem | None]:
    assert not report.ok
    return report.first_bad_seq, report.problem


# -- appending -------------------------------------------------------------------------------


def test_appends_form_one_chain_and_receipts_name_the_stored_entries(
    database: Database, audit: AuditLog
) -> None:
    receipts = append_many(database, audit, 7)

    with read_session(database) as session:
        entries = audit.entries(session, after_seq=0, limit=100)
    assert [r.seq for r in receipts] == [1, 2, 3, 4, 5, 6, 7]
    assert [(e.seq, e.entry_hash) for e in entries] == [(r.seq, r.entry_hash) for r in receipts]
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in pairwise(entries))
    body = json.loads(entries[2].body)
    assert body["seq"] == 3
    assert body["subject"] == pseudonymise("900101300003", key=HMAC_KEY)
    assert body["recorded_at"] == "2026-08-30T07:00:03.000000Z"


def test_several_appends_in_one_transaction_chain_onto_each_other(
    database: Database, audit: AuditLog, verifier: CheckpointVerifier
) -> None:
    receipts = append_many(database, audit, 12, per_transaction=4)

    assert [r.seq for r in receipts] == list(range(1, 13))
    with read_session(database) as session:
        assert [c.size for c in audit.checkpoints(session)] == [5, 10]
    assert verify_database(database, verifier=verifier).ok


def test_an_entry_commits_atomically_with_the_callers_rows(
    database: Database, audit: AuditLog
) -> None:
    with write_session(database) as session:
        session.connection().execute(text("CREATE TABLE test_decisions (id INTEGER PRIMARY KEY)"))

    def decide_then_fail() -> None:
        with write_session(database) as session:
            session.connection().execute(text("INSERT INTO test_decisions (id) VALUES (1)"))
            append_one(audit, session, 1)
            raise Rollback

    with pytest.raises(Rollback):
        decide_then_fail()

    with read_session(database) as session:
        decisions = session.connection().execute(text("SELECT count(*) FROM test_decisions"))
        assert decisions.scalar_one() == 0
        assert audit.entries(session, after_seq=0, limit=10) == []


def test_a_rolled_back_transaction_leaves_no_entry_no_checkpoint_and_no_gap(
    database: Database, audit: AuditLog, verifier: CheckpointVerifier
) -> None:
    append_many(database, audit, 3)

    def append_then_fail() -> None:
        with write_session(database) as session:
            for n in (4, 5, 6):  # crosses the checkpoint at 5
                append_one(audit, session, n)
            raise Rollback

    with pytest.raises(Rollback):
        append_then_fail()

    with read_session(database) as session:
        assert [e.seq for e in audit.iter_entries(session)] == [1, 2, 3]
        assert audit.checkpoints(session) == []
    with write_session(database) as session:
        assert append_one(audit, session, 4).seq == 4
        assert append_one(audit, session, 5).seq == 5
    with read_session(database) as session:
        assert [c.size for c in audit.checkpoints(session)] == [5]
    assert verify_database(database, verifier=verifier).ok


def new_entry(n: int, *, subject: str | None = None) -> NewEntry:
    return NewEntry(
        kind="eligibility.check",
        subject=subject or pseudonymise(f"{900101300000 + n}", key=HMAC_KEY),
        payload={"outcome": "eligible", "reasons": [], "request_id": f"req-{n}"},
        recorded_at=at(n),
    )


def test_a_batch_appended_at_once_is_the_same_chain_as_one_by_one(
    database: Database, audit: AuditLog, verifier: CheckpointVerifier, tmp_path: Path
) -> None:
    # The same 12 entries one at a time into a second database: identical hashes expected.
    one_by_one = open_database(f"sqlite:///{tmp_path / 'one-by-one.db'}")
    create_schema(one_by_one)
    try:
        expected = append_many(one_by_one, audit, 12)
    finally:
        one_by_one.dispose()

    with write_session(database) as session:
        first = audit.append_many(session, [new_entry(n) for n in range(1, 8)])
    with write_session(database) as session:
        second = audit.append_many(session, [new_entry(n) for n in range(8, 13)])

    assert first + second == expected
    with read_session(database) as session:
        assert [c.size for c in audit.checkpoints(session)] == [5, 10]
    assert verify_database(database, verifier=verifier).ok


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.sampled_from(Outcome),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
instants = st.sampled_from(
    [CLOCK_START, CLOCK_START.astimezone(timezone(timedelta(hours=5, minutes=30))), at(1)]
)


@given(
    batch=st.lists(
        st.tuples(
            st.dictionaries(st.text(max_size=10), json_values, max_size=5),
            st.none() | st.integers(min_value=0, max_value=99).map(str),
            instants,
        ),
        min_size=1,
        max_size=4,
    )
)
@example(batch=[({"small": 1e-07, "large": 1e16, "float": 1.5}, None, CLOCK_START)])
@example(batch=[({"int past 64 bits": 2**64, "enum": Outcome.ELIGIBLE}, "1", CLOCK_START)])
@example(batch=[({"ü": '\u2028\x00\x1f"\\/😀', "t": (1, [None, True])}, "2", at(1))])
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_stored_body_is_the_canonical_body_of_its_entry(
    database: Database,
    audit: AuditLog,
    batch: list[tuple[dict[str, object], str | None, datetime]],
) -> None:
    # The writer renders most bodies with orjson; the chain defines them with json.dumps.
    entries = [
        NewEntry(
            kind="eligibility.check",
            subject=pseudonymise(number, key=HMAC_KEY) if number is not None else None,
            payload=payload,
            recorded_at=recorded_at,
        )
        for payload, number, recorded_at in batch
    ]
    stored: list[ChainEntry] = []

    def append_read_and_roll_back() -> None:  # so every example starts from an empty log
        with write_session(database) as session:
            audit.append_many(session, entries)
            stored.extend(audit.entries(session, after_seq=0, limit=len(entries)))
            raise Rollback

    with pytest.raises(Rollback):
        append_read_and_roll_back()

    assert [entry.seq for entry in stored] == list(range(1, len(entries) + 1))
    for entry, new in zip(stored, entries, strict=True):
        assert entry.body == canonical_body(
            seq=entry.seq,
            kind=new.kind,
            recorded_at=new.recorded_at,
            subject=new.subject,
            payload=new.payload,
        )


def test_a_batch_with_one_bad_subject_writes_nothing(database: Database, audit: AuditLog) -> None:
    batch = [new_entry(1), new_entry(2, subject="900101300126"), new_entry(3)]
    with pytest.raises(ValueError, match="pseudonym"), write_session(database) as session:
        audit.append_many(session, batch)
    with read_session(database) as session:
        assert audit.entries(session, after_seq=0, limit=10) == []


def test_an_empty_batch_appends_nothing(database: Database, audit: AuditLog) -> None:
    with write_session(database) as session:
        assert audit.append_many(session, []) == []
    with read_session(database) as session:
        assert audit.chain_length(session) == 0


def test_a_subject_that_is_not_a_pseudonym_is_refused(database: Database, audit: AuditLog) -> None:
    with pytest.raises(ValueError, match="pseudonym"), write_session(database) as session:
        audit.append(
            session, kind="eligibility.check", subject="900101300126", payload={}, recorded_at=at(1)
        )
    with read_session(database) as session:
        assert audit.entries(session, after_seq=0, limit=10) == []


def test_checkpoints_every_n_entries_are_signed_by_the_service_key(
    database: Database, audit: AuditLog, signer: CheckpointSigner, verifier: CheckpointVerifier
) -> None:
    receipts = append_many(database, audit, 11)

    with read_session(database) as session:
        checkpoints = audit.checkpoints(session)
        latest = audit.latest_checkpoint(session)
    assert [(c.size, c.head_hash) for c in checkpoints] == [
        (5, receipts[4].entry_hash),
        (10, receipts[9].entry_hash),
    ]
    assert latest == checkpoints[-1]
    for checkpoint in checkpoints:
        assert checkpoint.key_id == signer.key_id
        # Dated by real time, not by the service clock its entries were recorded at.
        assert checkpoint.signed_at == WALL_START
        message = checkpoint_message(
            checkpoint.size, checkpoint.head_hash, checkpoint.signed_at, checkpoint.key_id
        )
        assert verifier.verify(message, checkpoint.signature)


def test_checkpoint_if_due_signs_an_uncovered_head_once_the_newest_checkpoint_is_old(
    database: Database, signer: CheckpointSigner, wall: FakeClock
) -> None:
    audit = AuditLog(
        signer,
        checkpoint_every=1000,
        checkpoint_max_age=timedelta(seconds=60),
        wall_clock=SystemClock(wall),
    )
    with write_session(database) as session:
        assert audit.checkpoint_if_due(session) is None  # nothing to sign
    append_many(database, audit, 3)

    wall.advance(10)
    with write_session(database) as session:
        first = audit.checkpoint_if_due(session)  # none yet: sign at once
        assert first is not None
        assert (first.size, first.signed_at) == (3, real(10))
        wall.advance(490)
        assert audit.checkpoint_if_due(session) is None  # head already covered
    wall.advance(-490 + 59)
    with write_session(database) as session:
        append_one(audit, session, 4)
        assert audit.checkpoint_if_due(session) is None  # newest is 59 s old
        wall.advance(1)
        second = audit.checkpoint_if_due(session)
        assert second is not None
        assert (second.size, second.signed_at) == (4, real(70))
    with read_session(database) as session:
        assert [c.size for c in audit.checkpoints(session)] == [3, 4]


def test_a_fixed_service_clock_still_gets_a_checkpoint_once_60_real_seconds_pass(
    database: Database, signer: CheckpointSigner, wall: FakeClock, verifier: CheckpointVerifier
) -> None:
    # Every entry is recorded at one instant, as under VOTER_CLOCK_FIXED; only real time moves.
    audit = AuditLog(signer, checkpoint_every=1000, wall_clock=SystemClock(wall))

    def append_at_the_fixed_instant() -> None:
        with write_session(database) as session:
            audit.append(
                session, kind="test.entry", subject=None, payload={}, recorded_at=CLOCK_START
            )

    append_at_the_fixed_instant()
    with write_session(database) as session:
        assert audit.checkpoint_if_due(session) is not None  # the first one at once
    for _ in range(599):
        append_at_the_fixed_instant()
    wall.advance(59.9)
    with write_session(database) as session:
        assert audit.checkpoint_if_due(session) is None
    wall.advance(0.1)
    with write_session(database) as session:
        signed = audit.checkpoint_if_due(session)

    assert signed is not None
    assert (signed.size, signed.signed_at) == (600, real(60))
    report = verify_database(database, verifier=verifier)
    assert report.ok, report.detail
    assert (report.entries_checked, report.uncovered) == (600, 0)


def test_a_poller_signs_a_poll_ahead_of_the_maximum_age(
    database: Database, audit: AuditLog, wall: FakeClock
) -> None:
    append_many(database, audit, 5)  # a checkpoint at 5, signed now
    append_many(database, audit, 1)
    wall.advance(54.9)
    with write_session(database) as session:
        assert audit.checkpoint_if_due(session, ahead=timedelta(seconds=5)) is None
    wall.advance(0.1)  # the next poll would come at 60 s, one poll late: sign now
    with write_session(database) as session:
        signed = audit.checkpoint_if_due(session, ahead=timedelta(seconds=5))
    assert signed is not None
    assert signed.size == 6


def test_a_checkpoint_dated_ahead_by_an_old_fixed_clock_is_renewed_and_both_verify(
    database: Database, signer: CheckpointSigner, wall: FakeClock, verifier: CheckpointVerifier
) -> None:
    # Before checkpoints took real time, a demo's fixed clock dated them (here a year ahead);
    # measured against such a date the log would look freshly signed for a year.
    ahead_of_time = FakeClock(wall() + 365 * 24 * 3600)
    old = AuditLog(signer, checkpoint_every=1000, wall_clock=SystemClock(ahead_of_time))
    append_many(database, old, 2)
    with write_session(database) as session:
        assert old.checkpoint_if_due(session) is not None
    append_many(database, old, 1)

    audit = AuditLog(signer, checkpoint_every=1000, wall_clock=SystemClock(wall))
    with write_session(database) as session:
        renewed = audit.checkpoint_if_due(session)

    assert renewed is not None
    assert (renewed.size, renewed.signed_at) == (3, WALL_START)
    # The signed message is unchanged: a checkpoint verifies whichever clock dated it.
    report = verify_database(database, verifier=verifier)
    assert report.ok, report.detail
    assert (report.checkpoints_checked, report.uncovered) == (2, 0)


def test_entries_page_by_seq_and_iteration_crosses_batch_boundaries(
    database: Database, audit: AuditLog
) -> None:
    append_many(database, audit, 12, per_transaction=6)

    with read_session(database) as session:
        assert [e.seq for e in audit.entries(session, after_seq=5, limit=3)] == [6, 7, 8]
        assert audit.entries(session, after_seq=12, limit=3) == []
        assert [e.seq for e in audit.iter_entries(session, batch_size=4)] == list(range(1, 13))
        assert [e.seq for e in audit.iter_entries(session, batch_size=5)] == list(range(1, 13))


def test_concurrent_writers_produce_one_linear_chain(
    database: Database, audit: AuditLog, verifier: CheckpointVerifier
) -> None:
    per_thread = 200
    start = threading.Barrier(2)
    receipts: list[Receipt] = []
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            start.wait()
            for n in range(per_thread):
                with write_session(database) as session:
                    receipts.append(append_one(audit, session, offset + n))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(offset,)) for offset in (0, 10_000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(r.seq for r in receipts) == list(range(1, 2 * per_thread + 1))
    report = verify_database(database, verifier=verifier)
    assert report.ok, report.detail
    assert report.entries_checked == 2 * per_thread
    assert report.checkpoints_checked == 2 * per_thread // CHECKPOINT_EVERY


# -- tampering with the database -------------------------------------------------------------


@pytest.fixture
def twelve_entries(database: Database, audit: AuditLog, verifier: CheckpointVerifier) -> None:
    """Entries 1..12, checkpoints at 5 and 10, verified clean before each tampering."""
    append_many(database, audit, 12, per_transaction=3)
    assert verify_database(database, verifier=verifier).ok


def test_the_log_refuses_updates_and_deletes_from_ordinary_sql(
    database: Database, db_path: Path, twelve_entries: None
) -> None:
    connection = sqlite3.connect(db_path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute("UPDATE audit_entries SET kind = 'x' WHERE seq = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute("DELETE FROM audit_checkpoints")
    finally:
        connection.close()


@pytest.mark.usefixtures("twelve_entries")
def test_one_changed_character_in_a_body_is_modified_at_that_seq(
    database: Database, db_path: Path, verifier: CheckpointVerifier
) -> None:
    with tampering(db_path) as sql:
        body = row(sql, 7)[2]
        at_outcome = body.index('"eligible"') + 1
        edited = body[:at_outcome] + "E" + body[at_outcome + 1 :]
        sql.execute("UPDATE audit_entries SET body = ? WHERE seq = 7", (edited,))

    assert caught(verify_database(database, verifier=verifier)) == (7, Problem.MODIFIED)


@pytest.mark.usefixtures("twelve_entries")
def test_a_deleted_row_is_deleted_at_its_seq(
    database: Database, db_path: Path, verifier: CheckpointVerifier
) -> None:
    with tampering(db_path) as sql:
        sql.execute("DELETE FROM audit_entries WHERE seq = 7")

    assert caught(verify_database(database, verifier=verifier)) == (7, Problem.DELETED)


@pytest.mark.usefixtures("twelve_entries")
def test_a_well_formed_row_inserted_into_the_middle_is_inserted_at_its_seq(
    database: Database, db_path: Path, verifier: CheckpointVerifier
) -> None:
    with tampering(db_path) as sql:
        prev_hash = row(sql, 6)[1]
        body = canonical_body(
            seq=7,
            kind="override.approve",
            recorded_at=at(6),
            subject=None,
            payload={"outcome": "active"},
        )
        move_rows(sql, from_seq=7, by=1)
        sql.execute(
            "INSERT INTO audit_entries (seq, prev_hash, entry_hash, kind, subject, body, "
            "recorded_at) VALUES (7, ?, ?, 'override.approve', NULL, ?, ?)",
            (prev_hash, entry_hash(prev_hash, body), body, "2026-08-30 07:00:06.000000"),
        )

    assert caught(verify_database(database, verifier=verifier)) == (7, Problem.INSERTED)


@pytest.mark.usefixtures("twelve_entries")
def test_two_rows_with_swapped_bodies_are_modified_at_the_earlier_seq(
    database: Database, db_path: Path, verifier: CheckpointVerifier
) -> None:
    with tampering(db_path) as sql:
        body_3, body_8 = row(sql, 3)[2], row(sql, 8)[2]
        sql.execute("UPDATE audit_entries SET body = ? WHERE seq = 3", (body_8,))
        sql.execute("UPDATE audit_entries SET body = ? WHERE seq = 8", (body_3,))

    report = verify_database(database, verifier=verifier)
    assert caught(report) == (3, Problem.MODIFIED)
    assert "claims seq 8" in report.detail


@pytest.mark.usefixtures("twelve_entries")
def test_two_rows_with_swapped_seqs_are_reordered_at_the_earlier_seq(
    database: Database, db_path: Path, verifier: CheckpointVerifier
) -> None:
    with tampering(db_path) as sql:
        sql.execute("UPDATE audit_entries SET seq = 1000 WHERE seq = 3")
        sql.execute("UPDATE audit_entries SET seq = 3 WHERE seq = 8")
        sql.execute("UPDATE audit_entries SET seq = 8 WHERE seq = 1000")

    assert caught(verify_database(database, verifier=verifier)) == (3, Problem.REORDERED)


@pytest.mark.usefixtures("twelve_entries")
def test_a_tail_cut_below_the_latest_checkpoint_is_truncated_after_the_last_kept_entry(
    database: Database, db_path: Path, verifier: CheckpointVerifier
) -> None:
    with tampering(db_path) as sql:
        sql.execute("DELETE FROM audit_entries WHERE seq > 8")

    report = verify_database(database, verifier=verifier)
    assert caught(report) == (9, Problem.TRUNCATED)
    assert report.entries_checked == 8


@pytest.mark.usefixtures("twelve_entries")
def test_an_altered_checkpoint_signature_is_bad_signature_at_its_size(
    database: Database, db_path: Path, verifier: CheckpointVerifier
) -> None:
    with tampering(db_path) as sql:
        (signature,) = sql.execute(
            "SELECT signature FROM audit_checkpoints WHERE size = 5"
        ).fetchone()
        flipped = ("1" if signature[0] == "0" else "0") + signature[1:]
        sql.execute("UPDATE audit_checkpoints SET signature = ? WHERE size = 5", (flipped,))

    assert caught(verify_database(database, verifier=verifier)) == (5, Problem.BAD_SIGNATURE)


@pytest.mark.usefixtures("twelve_entries")
def test_a_checkpoint_signature_replaced_by_garbage_is_bad_signature_not_a_crash(
    database: Database, db_path: Path, verifier: CheckpointVerifier
) -> None:
    with tampering(db_path) as sql:
        sql.execute("UPDATE audit_checkpoints SET signature = 'not hex' WHERE size = 10")

    assert caught(verify_database(database, verifier=verifier)) == (10, Problem.BAD_SIGNATURE)


@pytest.mark.usefixtures("twelve_entries")
def test_the_database_verifies_only_against_the_key_that_signed_it(database: Database) -> None:
    stranger = CheckpointVerifier(CheckpointSigner(generate_signing_key()).public_key_pem)

    assert caught(verify_database(database, verifier=stranger)) == (5, Problem.BAD_SIGNATURE)


# -- export ----------------------------------------------------------------------------------


@pytest.fixture
def exported(
    database: Database, signer: CheckpointSigner, tmp_path: Path, twelve_entries: None
) -> Path:
    path = tmp_path / "audit.jsonl"
    assert export_log(database, path, public_key_pem=signer.public_key_pem) == 12
    return path


def test_an_export_verifies_against_the_observers_key(
    exported: Path, signer: CheckpointSigner, verifier: CheckpointVerifier
) -> None:
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {
        "type": "header",
        "format": "voter-audit-export/1",
        "public_key": signer.public_key_pem,
    }
    assert [line["type"] for line in lines[1:]] == ["entry"] * 12 + ["checkpoint"] * 2

    report = verify_export(exported, verifier=verifier)
    assert report.ok, report.detail
    assert (report.entries_checked, report.checkpoints_checked) == (12, 2)
    # Cut after the checkpoint at 10: entries 11 and 12 are vouched for by no signature.
    assert (report.covered, report.uncovered, report.uncovered_seqs) == (10, 2, (11, 12))


def test_an_edited_export_is_modified_at_the_edited_seq(
    exported: Path, verifier: CheckpointVerifier
) -> None:
    lines = exported.read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[7])
    assert record["seq"] == 7
    record["body"] = record["body"].replace('"eligible"', '"ineligible"')
    lines[7] = json.dumps(record, ensure_ascii=False) + "\n"
    exported.write_text("".join(lines), encoding="utf-8")

    assert caught(verify_export(exported, verifier=verifier)) == (7, Problem.MODIFIED)


def test_an_export_re_signed_with_another_key_fails_despite_naming_that_key_in_its_header(
    exported: Path, verifier: CheckpointVerifier
) -> None:
    forger = CheckpointSigner(generate_signing_key())
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    lines[0]["public_key"] = forger.public_key_pem
    for line in lines:
        if line["type"] == "checkpoint":
            signed_at = datetime.fromisoformat(line["signed_at"])
            line["key_id"] = forger.key_id
            message = checkpoint_message(line["size"], line["head_hash"], signed_at, forger.key_id)
            line["signature"] = forger.sign(message).hex()
            # And the tlog-checkpoint note, under the same origin.
            text = parse_note(line["note"]).text
            line["note"] = sign_note(text, NoteSigner(DEFAULT_ORIGIN, forger.private_key))
    exported.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    assert verify_export(exported, verifier=CheckpointVerifier(forger.public_key_pem)).ok
    assert caught(verify_export(exported, verifier=verifier)) == (5, Problem.BAD_SIGNATURE)


def test_an_export_with_an_unreadable_line_is_malformed_naming_the_line(
    exported: Path, verifier: CheckpointVerifier
) -> None:
    lines = exported.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[4] = lines[4][:20] + "\n"
    exported.write_text("".join(lines), encoding="utf-8")

    report = verify_export(exported, verifier=verifier)
    assert caught(report) == (None, Problem.MALFORMED)
    assert report.detail.startswith("line 5:")
