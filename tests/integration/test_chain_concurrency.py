"""One audit chain, whatever the number of writers (issue 4).

Several processes append decisions at once through the real code path (the group commit, the same
object the API uses: decision row and audit entry in one transaction). Afterwards the chain
must be one linear sequence 1..N with no fork, gap or duplicate, verify against its signed
checkpoints, and match the decisions one to one.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
import uuid

from sqlalchemy import func
from sqlmodel import select

from service.audit.log import AuditLog
from service.audit.pseudonym import pseudonymise
from service.audit.signing import CheckpointSigner, CheckpointVerifier
from service.audit.tables import AuditEntryRow
from service.audit.verify import verify_database
from service.clock import SystemClock
from service.db.engine import Database, open_database, read_session, write_session
from service.db.group_commit import DecisionWriter
from service.db.migrations import create_schema
from service.db.tables import DecisionRow
from service.usecases.ports import already_decided
from tests.clocks import FakeClock
from tests.support import NOW, Keys

PROCESSES = int(os.environ.get("VOTER_CHAIN_PROCESSES", "4"))
APPENDS_PER_PROCESS = int(os.environ.get("VOTER_CHAIN_APPENDS", "5000"))
HMAC_KEY = b"chain-concurrency-test-hmac-key-0123"


def _append_many(database_url: str, signing_key: str, worker: int, count: int) -> None:
    database = open_database(database_url)
    decisions = DecisionWriter(
        database=database,
        audit_log=AuditLog(CheckpointSigner(signing_key), checkpoint_every=1000),
        clock=SystemClock(),
    )

    async def run() -> None:
        for i in range(count):
            decision_id = str(uuid.uuid4())
            await decisions.decide_and_record(
                already_decided(
                    kind="eligibility.check",
                    subject=pseudonymise(f"{worker:02d}{i:010d}", key=HMAC_KEY),
                    decision_id=decision_id,
                    election_id="2027-president",
                    outcome="eligible",
                    payload={"decision_id": decision_id, "worker": worker, "i": i},
                )
            )
        await decisions.aclose()

    asyncio.run(run())
    database.dispose()


def test_concurrent_writers_make_one_linear_chain(database_url: str, keys: Keys) -> None:
    database = open_database(database_url)
    create_schema(database)
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    workers = [
        context.Process(
            target=_append_many,
            args=(database_url, keys.audit_signing, worker, APPENDS_PER_PROCESS),
        )
        for worker in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join()
    elapsed = time.perf_counter() - started
    assert [p.exitcode for p in workers] == [0] * PROCESSES

    expected = PROCESSES * APPENDS_PER_PROCESS
    with read_session(database) as session:
        seqs = session.exec(select(AuditEntryRow.seq).order_by(AuditEntryRow.seq)).all()
        decisions = session.exec(select(func.count()).select_from(DecisionRow)).one()
        linked = session.exec(
            select(func.count(func.distinct(DecisionRow.audit_seq))).select_from(DecisionRow)
        ).one()
    assert list(seqs) == list(range(1, expected + 1))
    assert decisions == linked == expected

    report = verify_database(database, verifier=CheckpointVerifier(keys.audit_public))
    database.dispose()
    print(
        f"\nchain concurrency on {database.writer.dialect.name}: {PROCESSES} processes x "
        f"{APPENDS_PER_PROCESS} appends = {expected} in {elapsed:.1f} s "
        f"({expected / elapsed:.0f}/s); chain length {len(seqs)}; "
        f"verify ok={report.ok}, {report.entries_checked} entries, "
        f"{report.checkpoints_checked} checkpoints"
    )
    assert report.ok, report
    assert report.entries_checked == expected
    assert report.checkpoints_checked >= expected // 1000


def test_replicas_polling_at_once_sign_one_checkpoint_between_them(
    database_url: str, keys: Keys
) -> None:
    # Each replica has its own engine (its own connections) and its own view of real time,
    # here all a minute past the checkpoint they race to replace.
    setup = open_database(database_url)
    create_schema(setup)
    wall = FakeClock(NOW.timestamp())
    first = AuditLog(
        CheckpointSigner(keys.audit_signing), checkpoint_every=1000, wall_clock=SystemClock(wall)
    )
    for i in range(7):
        with write_session(setup) as session:
            first.append(session, kind="test", subject=None, payload={"i": i}, recorded_at=NOW)
            if i == 2:
                assert first.checkpoint_if_due(session) is not None  # size 3
    wall.advance(61)
    replicas = [open_database(database_url) for _ in range(4)]
    start = threading.Barrier(len(replicas))
    signed: list[int] = []
    errors: list[BaseException] = []

    def poll(database: Database) -> None:
        audit_log = AuditLog(
            CheckpointSigner(keys.audit_signing),
            checkpoint_every=1000,
            wall_clock=SystemClock(wall),
        )
        try:
            start.wait()
            with write_session(database) as session:
                checkpoint = audit_log.checkpoint_if_due(session)
            if checkpoint is not None:
                signed.append(checkpoint.size)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=poll, args=(replica,)) for replica in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for replica in replicas:
        replica.dispose()

    assert errors == []
    assert signed == [7]
    with read_session(setup) as session:
        assert [c.size for c in first.checkpoints(session)] == [3, 7]
    setup.dispose()
