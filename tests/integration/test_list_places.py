"""SPEC §15: one place on a list per voter and election, held by the database across kinds.

A presence list entry and a day registration both take the voter's row in ``list_places``
in the transaction that records them; the primary key refuses a second, and cancelling
frees it. Runs on SQLite, and on PostgreSQL when VOTER_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError

from service.audit.log import AuditLog
from service.audit.signing import CheckpointSigner
from service.db import repository
from service.db.engine import Database, open_database, write_session
from service.db.migrations import alembic_config, create_schema, upgrade
from service.db.storage import SqlStorage
from service.domain.model import ActiveListEntry, HolderKind, ListEntryKind, ListPlace
from service.usecases.ports import (
    DayRegistrationRecord,
    DuplicateRecord,
    ListEntryRecord,
    UnitOfWork,
)
from tests.support import Keys

NOW = dt.datetime(2027, 3, 10, 5, 0, tzinfo=dt.UTC)
ELECTION = "2027-president"
SUBJECT = "v1:" + "ab" * 32


def _entry(entry_id: str, subject: str = SUBJECT) -> ListEntryRecord:
    return ListEntryRecord(
        id=entry_id,
        election_id=ELECTION,
        subject=subject,
        kind=ListEntryKind.SPECIAL_PRESENCE,
        precinct_id="75-0900",
        document_ref="hospital-list-7",
        created_by="operator@tec",
        created_at=NOW,
        audit_seq=1,
    )


def _registration(registration_id: str, subject: str = SUBJECT) -> DayRegistrationRecord:
    return DayRegistrationRecord(
        id=registration_id,
        election_id=ELECTION,
        subject=subject,
        precinct_id="75-0002",
        registered_by="clerk@egov",
        registered_at=NOW,
        lapses_at=NOW + dt.timedelta(days=12),
        audit_seq=1,
    )


@pytest.fixture
def database(database_url: str) -> Database:
    database = open_database(database_url)
    create_schema(database)
    yield database  # type: ignore[misc]
    database.dispose()


def test_a_presence_entry_and_a_day_registration_cannot_both_hold_a_voter(
    database: Database,
) -> None:
    with write_session(database) as session:
        repository.DayRegistrations(session).add(_registration("r-1"))
    with pytest.raises(IntegrityError), write_session(database) as session:
        repository.ListEntries(session).add(_entry("e-1"))
    with write_session(database) as session:
        places = repository.ListPlaces(session).holders(election_id=ELECTION, subjects=[SUBJECT])
        assert places == {SUBJECT: ListPlace(HolderKind.DAY_REGISTRATION, "r-1")}
        repository.DayRegistrations(session).cancel(
            "r-1", by="operator@tec", at=NOW, reason="entered in error"
        )
    # Cancelling freed the place: the entry is taken now, and blocks a registration.
    with write_session(database) as session:
        repository.ListEntries(session).add(_entry("e-1"))
    with pytest.raises(IntegrityError), write_session(database) as session:
        repository.DayRegistrations(session).add(_registration("r-2"))
    with pytest.raises(IntegrityError), write_session(database) as session:
        repository.ListEntries(session).add(_entry("e-2"))


def test_a_cancelled_entry_frees_the_place_and_leaves_the_standing(database: Database) -> None:
    with write_session(database) as session:
        repository.ListEntries(session).add(_entry("e-1"))
    with database.writer.connect() as connection:
        found = repository.standings(connection, election_id=ELECTION, subjects=[SUBJECT], now=NOW)
        everyone = repository.election_standings(connection, election_id=ELECTION, now=NOW)
        assert repository.anyone_has_standing(connection)
    expected = ActiveListEntry("e-1", ListEntryKind.SPECIAL_PRESENCE, "75-0900")
    assert found[SUBJECT].list_entry == expected
    assert everyone[SUBJECT].list_entry == expected
    with write_session(database) as session:
        cancelled = repository.ListEntries(session).cancel(
            "e-1", by="operator@tec", at=NOW, reason="discharged", audit_seq=2
        )
    assert (cancelled.cancelled_by, cancelled.cancel_reason, cancelled.cancel_audit_seq) == (
        "operator@tec",
        "discharged",
        2,
    )
    with database.writer.connect() as connection:
        assert (
            repository.standings(connection, election_id=ELECTION, subjects=[SUBJECT], now=NOW)
            == {}
        )
    with write_session(database) as session:
        repository.DayRegistrations(session).add(_registration("r-1"))


def test_twenty_concurrent_ways_onto_a_list_for_one_voter_exactly_one_wins(
    database: Database, keys: Keys
) -> None:
    """Half try a presence entry, half a day registration, each with its audit entry, at
    once: the database lets exactly one commit."""
    storage = SqlStorage(database, audit_log=AuditLog(CheckpointSigner(keys.audit_signing)))
    barrier = threading.Barrier(20)
    won: list[str] = []
    lost: list[str] = []

    def attempt(i: int) -> None:
        record_id = str(uuid.uuid4())

        def work(uow: UnitOfWork) -> None:
            receipt = uow.audit.append(
                kind="test.list_place", subject=SUBJECT, payload={"i": i}, recorded_at=NOW
            )
            if i % 2:
                uow.day_registrations.add(_registration(record_id))
            else:
                uow.list_entries.add(_entry(record_id))
            assert receipt.seq > 0

        barrier.wait()
        try:
            storage.transact_blocking(work)
            won.append(record_id)
        except DuplicateRecord:
            lost.append(record_id)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(won), len(lost)) == (1, 19)
    with write_session(database) as session:
        places = repository.ListPlaces(session).holders(election_id=ELECTION, subjects=[SUBJECT])
        [holder] = places.values()
        assert holder.holder_id == won[0]
        audited = session.execute(
            sa.text("SELECT count(*) FROM audit_entries WHERE kind = 'test.list_place'")
        ).scalar()
    # The losers' audit entries rolled back with them.
    assert audited == 1


def test_the_migration_gives_each_active_day_registration_its_place(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "0005")
    engine = sa.create_engine(database_url)
    insert = sa.text(
        "INSERT INTO day_registrations (id, election_id, subject, precinct_id, registered_by,"
        " registered_at, lapses_at, active_key, audit_seq, cancelled_at) VALUES (:id, :e,"
        " :s, '75-0002', 'clerk', :at, :at, :key, 1, :cancelled)"
    )
    with engine.begin() as connection:
        connection.execute(
            insert,
            {"id": "r-1", "e": ELECTION, "s": SUBJECT, "at": NOW, "key": "k", "cancelled": None},
        )
        connection.execute(
            insert,
            {"id": "r-2", "e": ELECTION, "s": "v1:other", "at": NOW, "key": None, "cancelled": NOW},
        )
    upgrade(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT election_id, voter_subject, holder_kind, holder_id FROM list_places")
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(ELECTION, SUBJECT, "day_registration", "r-1")]
