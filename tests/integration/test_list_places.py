"""SPEC §15: one place on a list per voter and election, held by the database across kinds.

A presence list entry and a day registration both take the voter's row in ``list_places``
in the transaction that records them; the primary key refuses a second, and cancelling
frees it. Runs on SQLite, and on PostgreSQL when VOTER_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import replace

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
    AbsenteeCertificateRecord,
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


def _certificate(database: Database) -> str:
    """An absentee certificate (a list entry and its serial) of SUBJECT; returns its id."""
    entry = replace(
        _entry("cert-1"), kind=ListEntryKind.ABSENTEE_CERTIFICATE, precinct_id="75-0001"
    )
    with write_session(database) as session:
        repository.ListEntries(session).add(entry)
        certificates = repository.AbsenteeCertificates(session)
        serial = certificates.next_serial(ELECTION)
        certificates.add(
            AbsenteeCertificateRecord(
                entry_id=entry.id, election_id=ELECTION, subject=SUBJECT, serial=serial
            )
        )
    return entry.id


def twenty_concurrent_uses_of_one_certificate(database: Database, keys: Keys) -> None:
    """Twenty precincts record the use of one certificate at once, each with its audit
    entry: the database lets exactly one commit."""
    certificate_id = _certificate(database)
    storage = SqlStorage(database, audit_log=AuditLog(CheckpointSigner(keys.audit_signing)))
    barrier = threading.Barrier(20)
    won: list[str] = []
    lost: list[str] = []

    def attempt(i: int) -> None:
        precinct_id = f"19-{i:04d}"

        def work(uow: UnitOfWork) -> None:
            receipt = uow.audit.append(
                kind="test.certificate_use", subject=SUBJECT, payload={"i": i}, recorded_at=NOW
            )
            uow.absentee_certificates.use(
                certificate_id, precinct_id=precinct_id, at=NOW, by="member", audit_seq=receipt.seq
            )

        barrier.wait()
        try:
            storage.transact_blocking(work)
            won.append(precinct_id)
        except DuplicateRecord:
            lost.append(precinct_id)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(won), len(lost)) == (1, 19)
    with write_session(database) as session:
        certificate = repository.AbsenteeCertificates(session).get(certificate_id)
        assert certificate is not None
        assert certificate.used_at_precinct_id == won[0]
        standing = repository.Standings(session).of(election_id=ELECTION, subject=SUBJECT, now=NOW)
        assert standing.list_entry == ActiveListEntry(
            certificate_id, ListEntryKind.ABSENTEE_CERTIFICATE, "75-0001", won[0]
        )
        audited = session.execute(
            sa.text("SELECT count(*) FROM audit_entries WHERE kind = 'test.certificate_use'")
        ).scalar()
    assert audited == 1


def test_twenty_concurrent_uses_of_one_certificate_exactly_one_wins(
    database: Database, keys: Keys
) -> None:
    twenty_concurrent_uses_of_one_certificate(database, keys)


def test_a_voter_gets_one_certificate_per_election_and_a_serial_once(database: Database) -> None:
    _certificate(database)
    other = "v1:" + "cd" * 32
    # The same voter again, even as a new entry once the first is cancelled: refused.
    with write_session(database) as session:
        repository.ListEntries(session).cancel(
            "cert-1", by="op-2", at=NOW, reason="stays home", audit_seq=2
        )
    with pytest.raises(IntegrityError), write_session(database) as session:
        repository.AbsenteeCertificates(session).add(
            AbsenteeCertificateRecord(
                entry_id="cert-2", election_id=ELECTION, subject=SUBJECT, serial=2
            )
        )
    # Another voter with a serial already taken in the election: refused.
    with pytest.raises(IntegrityError), write_session(database) as session:
        repository.AbsenteeCertificates(session).add(
            AbsenteeCertificateRecord(
                entry_id="cert-3", election_id=ELECTION, subject=other, serial=1
            )
        )
    # Serials are taken one after the other per election; an issue that rolls back gives
    # its number back.
    taken: list[int] = []

    def take_three_then_fail() -> None:
        with write_session(database) as session:
            certificates = repository.AbsenteeCertificates(session)
            taken.extend(certificates.next_serial(e) for e in (ELECTION, ELECTION, "another"))
            raise LookupError("refused after taking serials")

    with pytest.raises(LookupError):
        take_three_then_fail()
    assert taken == [2, 3, 1]
    with write_session(database) as session:
        assert repository.AbsenteeCertificates(session).next_serial(ELECTION) == 2
