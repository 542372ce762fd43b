"""The group commit (service/db/group_commit.py) on a real database.

Many decisions submitted at once must share commits yet each get its own entry, in one chain
that verifies, with a decision row per entry; a job that fails must fail alone; a database
that refuses a batch must fail every job in it, leave nothing behind, and not stop the next
batch; standing records written before a batch must be what its decisions see.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from service.audit.log import AuditLog
from service.audit.pseudonym import pseudonymise
from service.audit.signing import CheckpointSigner, CheckpointVerifier
from service.audit.tables import AuditEntryRow
from service.audit.verify import verify_database
from service.clock import FixedClock
from service.db import repository
from service.db.engine import Database, open_database, read_session, write_session
from service.db.group_commit import DecisionWriter
from service.db.migrations import create_schema
from service.db.tables import DecisionRow
from service.errors import StorageUnavailable
from service.usecases.ports import DayRegistrationRecord, Decided, DecisionJob, Standing
from tests.support import Keys

NOW = dt.datetime(2027, 3, 20, 5, 0, tzinfo=dt.UTC)
HMAC_KEY = b"group-commit-test-hmac-key"
ELECTION = "2027-president"


class CountingObserver:
    def __init__(self) -> None:
        self.commits = 0

    def observe_audit_append(self, seconds: float) -> None:
        self.commits += 1


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    create_schema(db)
    yield db
    db.dispose()


@pytest.fixture
def audit_log(keys: Keys) -> AuditLog:
    return AuditLog(CheckpointSigner(keys.audit_signing), checkpoint_every=50)


def subject(n: int) -> str:
    return pseudonymise(f"{900101300000 + n}", key=HMAC_KEY)


def job(n: int, *, fail: bool = False) -> DecisionJob[Standing]:
    def decide(standing: Standing, now: dt.datetime) -> Decided[Standing]:
        if fail:
            raise RuntimeError("a bug in one decision")
        return Decided("eligible", {"n": n, "at": now.isoformat()}, standing)

    return DecisionJob(
        kind="eligibility.check",
        subject=subject(n),
        election_id=ELECTION,
        decision_id=str(uuid.uuid4()),
        decide=decide,
    )


def counts(database: Database) -> tuple[int, int]:
    with read_session(database) as session:
        entries = session.exec(select(func.count()).select_from(AuditEntryRow)).one()
        decisions = session.exec(select(func.count()).select_from(DecisionRow)).one()
    return int(entries), int(decisions)


async def test_concurrent_decisions_share_commits_and_each_gets_its_own_entry(
    database: Database, audit_log: AuditLog, keys: Keys
) -> None:
    observer = CountingObserver()
    writer = DecisionWriter(
        database=database, audit_log=audit_log, clock=FixedClock(NOW), observer=observer
    )
    jobs = [job(n) for n in range(300)]

    recorded = await asyncio.gather(*(writer.decide_and_record(j) for j in jobs))
    await writer.aclose()

    assert sorted(r.receipt.seq for r in recorded) == list(range(1, 301))
    assert all(r.decided_at == NOW for r in recorded)
    # Grouping happened: far fewer commits than decisions (300 queued before the first ran).
    assert observer.commits < 30
    assert counts(database) == (300, 300)
    with read_session(database) as session:
        rows = session.exec(select(DecisionRow)).all()
    by_id = {row.decision_id: row for row in rows}
    for submitted, result in zip(jobs, recorded, strict=True):
        assert by_id[submitted.decision_id].audit_seq == result.receipt.seq
        assert by_id[submitted.decision_id].subject == submitted.subject
    assert verify_database(database, verifier=CheckpointVerifier(keys.audit_public)).ok


async def test_a_decision_that_raises_fails_alone(database: Database, audit_log: AuditLog) -> None:
    writer = DecisionWriter(database=database, audit_log=audit_log, clock=FixedClock(NOW))

    outcomes = await asyncio.gather(
        writer.decide_and_record(job(1)),
        writer.decide_and_record(job(2, fail=True)),
        writer.decide_and_record(job(3)),
        return_exceptions=True,
    )
    await writer.aclose()

    assert isinstance(outcomes[1], RuntimeError)
    assert [o.receipt.seq for o in (outcomes[0], outcomes[2])] == [1, 2]  # type: ignore[union-attr]
    assert counts(database) == (2, 2)


async def test_a_refused_commit_fails_the_whole_batch_and_the_next_batch_still_commits(
    database: Database, audit_log: AuditLog, keys: Keys
) -> None:
    writer = DecisionWriter(database=database, audit_log=audit_log, clock=FixedClock(NOW))
    refuse = {"on": True}

    def refuse_commit(_connection: Any) -> None:
        if refuse["on"]:
            # What a full or failing disk looks like from here.
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))

    event.listen(database.writer, "commit", refuse_commit)
    try:
        failed = await asyncio.gather(
            *(writer.decide_and_record(job(n)) for n in range(5)), return_exceptions=True
        )
        assert all(isinstance(outcome, StorageUnavailable) for outcome in failed)
        assert counts(database) == (0, 0)

        refuse["on"] = False
        recovered = await writer.decide_and_record(job(6))
    finally:
        event.remove(database.writer, "commit", refuse_commit)
        await writer.aclose()

    assert recovered.receipt.seq == 1  # no gap where the refused batch was
    assert counts(database) == (1, 1)
    assert verify_database(database, verifier=CheckpointVerifier(keys.audit_public)).ok


async def test_decisions_see_the_day_registrations_committed_before_their_batch(
    database: Database, audit_log: AuditLog
) -> None:
    register_on_the_day(database, 1)
    writer = DecisionWriter(database=database, audit_log=audit_log, clock=FixedClock(NOW))

    registered, other = await asyncio.gather(
        writer.decide_and_record(job(1)), writer.decide_and_record(job(2))
    )
    await writer.aclose()

    assert registered.result.day_registration is not None
    assert registered.result.day_registration.precinct_id == "75-0001"
    assert other.result == Standing()


def register_on_the_day(database: Database, n: int) -> None:
    with write_session(database) as session:
        repository.DayRegistrations(session).add(
            DayRegistrationRecord(
                id=f"reg-{n}",
                election_id=ELECTION,
                subject=subject(n),
                precinct_id="75-0001",
                registered_by="egov-test",
                registered_at=NOW,
                lapses_at=NOW + dt.timedelta(hours=12),
                audit_seq=0,
            )
        )


async def test_the_first_day_registration_is_seen_by_the_next_batch(
    database: Database, audit_log: AuditLog
) -> None:
    # While no one has any standing, batches skip the standing query; the first registration
    # must end that at once, not after some cached answer expires.
    writer = DecisionWriter(database=database, audit_log=audit_log, clock=FixedClock(NOW))

    before = await writer.decide_and_record(job(1))
    register_on_the_day(database, 1)
    after = await writer.decide_and_record(job(1))
    await writer.aclose()

    assert before.result == Standing()
    assert after.result.day_registration is not None
    assert after.result.day_registration.id == "reg-1"


async def test_decision_rows_and_entries_are_found_by_the_instant_of_the_decision(
    database: Database, audit_log: AuditLog
) -> None:
    # Rows go in through the driver, past SQLAlchemy's conversions: they must still be stored
    # as SQLAlchemy stores instants, or queries by time (bound by SQLAlchemy) miss them.
    writer = DecisionWriter(database=database, audit_log=audit_log, clock=FixedClock(NOW))

    recorded = await asyncio.gather(*(writer.decide_and_record(job(n)) for n in range(3)))
    await writer.aclose()

    with read_session(database) as session:
        decisions = session.exec(select(DecisionRow).where(DecisionRow.decided_at == NOW)).all()
        entries = session.exec(select(AuditEntryRow).where(AuditEntryRow.recorded_at == NOW)).all()
    assert sorted(row.audit_seq for row in decisions) == sorted(r.receipt.seq for r in recorded)
    assert sorted(row.seq for row in entries) == sorted(r.receipt.seq for r in recorded)
    assert {repository.as_utc(row.decided_at) for row in decisions} == {NOW}


async def test_close_commits_what_is_still_queued(database: Database, audit_log: AuditLog) -> None:
    writer = DecisionWriter(database=database, audit_log=audit_log, clock=FixedClock(NOW))
    pending = [asyncio.ensure_future(writer.decide_and_record(job(n))) for n in range(20)]
    await asyncio.sleep(0)  # queued, not yet committed

    await writer.aclose()

    assert all(p.done() and not p.exception() for p in pending)
    assert counts(database) == (20, 20)
