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
from service.domain.model import (
    ActiveListEntry,
    ActiveOverride,
    HolderKind,
    ListEntryKind,
    ListPlace,
    OverrideKind,
)
from service.domain.overrides import OverrideAction
from service.usecases.ports import (
    AbsenteeCertificateRecord,
    DayRegistrationRecord,
    DuplicateRecord,
    ListEntryRecord,
    OverrideActionRecord,
    OverrideRecord,
    OverrideRepository,
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


def _approved_override(
    overrides: OverrideRepository, override_id: str, *, expires_on: dt.date
) -> None:
    """An approved override of SUBJECT assigning them to 75-0003, holding the place."""
    overrides.add(
        OverrideRecord(
            id=override_id,
            election_id=ELECTION,
            subject=SUBJECT,
            kind=OverrideKind.ASSIGN.value,
            precinct_id="75-0003",
            reason_code="COURT_DECISION",
            reason_text="court",
            document_ref="court-1",
            expires_on=expires_on,
            created_by="maker",
            created_at=NOW,
            audit_seq=1,
        )
    )
    overrides.add_action(
        OverrideActionRecord(
            override_id=override_id,
            action=OverrideAction.APPROVE,
            actor="checker",
            at=NOW,
            reason=None,
            audit_seq=2,
        )
    )
    overrides.hold(election_id=ELECTION, subject=SUBJECT, override_id=override_id)


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
        places = repository.ListPlaces(session).holders(
            election_id=ELECTION, subjects=[SUBJECT], now=NOW
        )
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


def test_an_active_override_holds_the_place_a_list_entry_would_take(database: Database) -> None:
    with write_session(database) as session:
        _approved_override(repository.Overrides(session), "o-1", expires_on=NOW.date())
    with pytest.raises(IntegrityError), write_session(database) as session:
        repository.ListEntries(session).add(_entry("e-1"))
    with write_session(database) as session:
        places = repository.ListPlaces(session).holders(
            election_id=ELECTION, subjects=[SUBJECT], now=NOW
        )
        assert places == {SUBJECT: ListPlace(HolderKind.OVERRIDE, "o-1")}
        standing = repository.Standings(session).of(election_id=ELECTION, subject=SUBJECT, now=NOW)
        assert standing.override == ActiveOverride("o-1", OverrideKind.ASSIGN, "75-0003")
    # Revoked: the place is free again.
    with write_session(database) as session:
        repository.Overrides(session).release(
            election_id=ELECTION, subject=SUBJECT, override_id="o-1"
        )
        repository.ListEntries(session).add(_entry("e-1"))


def test_a_lapsed_holder_gives_its_place_to_the_next_record(database: Database) -> None:
    """An override past its expiry day, or a day registration past its lapse, no longer
    places the voter: the next record's look-up frees the place in its own transaction."""
    other = "v1:" + "ef" * 32
    with write_session(database) as session:
        # Expires on NOW's day in Kazakhstan: in force at NOW, expired the day after.
        _approved_override(repository.Overrides(session), "o-1", expires_on=NOW.date())
        repository.DayRegistrations(session).add(
            replace(_registration("r-1", subject=other), lapses_at=NOW + dt.timedelta(hours=1))
        )
    later = NOW + dt.timedelta(days=1)
    with write_session(database) as session:
        places = repository.ListPlaces(session)
        # Still in force at NOW: named, not freed.
        assert set(places.holders(election_id=ELECTION, subjects=[SUBJECT, other], now=NOW)) == {
            SUBJECT,
            other,
        }
        assert places.holders(election_id=ELECTION, subjects=[SUBJECT, other], now=later) == {}
        repository.ListEntries(session).add(_entry("e-1"))
        repository.ListEntries(session).add(_entry("e-2", subject=other))
    with write_session(database) as session:
        assert repository.ListPlaces(session).holders(
            election_id=ELECTION, subjects=[SUBJECT, other], now=later
        ) == {
            SUBJECT: ListPlace(HolderKind.LIST_ENTRY, "e-1"),
            other: ListPlace(HolderKind.LIST_ENTRY, "e-2"),
        }


def test_twenty_concurrent_ways_onto_a_list_for_one_voter_exactly_one_wins(
    database: Database, keys: Keys
) -> None:
    """A third try a presence entry, a third a day registration, a third approve an
    override, each with its audit entry, at once: the database lets exactly one commit."""
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
            if i % 3 == 0:
                uow.list_entries.add(_entry(record_id))
            elif i % 3 == 1:
                uow.day_registrations.add(_registration(record_id))
            else:
                _approved_override(uow.overrides, record_id, expires_on=NOW.date())
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
        places = repository.ListPlaces(session).holders(
            election_id=ELECTION, subjects=[SUBJECT], now=NOW
        )
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


def _override_rows(connection: sa.Connection, override_id: str, *, expires_on: dt.date) -> None:
    """An approved override and its guard row, as revision 0011 kept them."""
    connection.execute(
        sa.text(
            "INSERT INTO overrides (id, election_id, subject, kind, precinct_id, reason_code,"
            " reason_text, document_ref, expires_on, created_by, created_at, audit_seq)"
            " VALUES (:id, :e, :s, 'assign', '75-0003', 'COURT_DECISION', 'court', 'c-1',"
            " :expires, 'maker', :at, 1)"
        ),
        {
            "id": override_id,
            "e": ELECTION,
            "s": f"v1:{override_id}",
            "expires": expires_on,
            "at": NOW,
        },
    )
    connection.execute(
        sa.text(
            "INSERT INTO override_actions (override_id, action, actor, at, audit_seq)"
            " VALUES (:id, 'approve', 'checker', :at, 2)"
        ),
        {"id": override_id, "at": NOW},
    )
    connection.execute(
        sa.text(
            "INSERT INTO active_overrides (election_id, subject, override_id) VALUES (:e, :s, :id)"
        ),
        {"id": override_id, "e": ELECTION, "s": f"v1:{override_id}"},
    )


def _place_row(connection: sa.Connection, subject: str, holder_id: str) -> None:
    connection.execute(
        sa.text(
            "INSERT INTO list_places (election_id, voter_subject, holder_kind, holder_id)"
            " VALUES (:e, :s, 'list_entry', :id)"
        ),
        {"e": ELECTION, "s": subject, "id": holder_id},
    )


def _places(engine: sa.Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT voter_subject, holder_kind, holder_id FROM list_places"
                " ORDER BY voter_subject"
            )
        ).all()
    return [tuple(r) for r in rows]


def test_the_migration_gives_each_active_override_its_place(database_url: str) -> None:
    """0012 carries every guard row over as the override's place and drops the guard table;
    an expired override that clashes with another record is dropped, not carried."""
    command.upgrade(alembic_config(database_url), "0011")
    engine = sa.create_engine(database_url)
    far, past = dt.date(2999, 1, 1), dt.date(2000, 1, 1)
    with engine.begin() as connection:
        _override_rows(connection, "o-live", expires_on=far)
        _override_rows(connection, "o-expired", expires_on=past)
        _place_row(connection, "v1:o-expired", "e-9")
    upgrade(database_url)
    assert _places(engine) == [
        ("v1:o-expired", "list_entry", "e-9"),
        ("v1:o-live", "override", "o-live"),
    ]
    assert "active_overrides" not in sa.inspect(engine).get_table_names()
    command.downgrade(alembic_config(database_url), "0011")
    with engine.connect() as connection:
        guards = connection.execute(
            sa.text("SELECT subject, override_id FROM active_overrides")
        ).all()
    assert [tuple(g) for g in guards] == [("v1:o-live", "o-live")]
    assert _places(engine) == [("v1:o-expired", "list_entry", "e-9")]
    engine.dispose()


def test_the_migration_stops_when_an_override_in_force_clashes_with_another_record(
    database_url: str,
) -> None:
    command.upgrade(alembic_config(database_url), "0011")
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        _override_rows(connection, "o-live", expires_on=dt.date(2999, 1, 1))
        _place_row(connection, "v1:o-live", "e-7")
    with pytest.raises(RuntimeError, match="override o-live and list_entry e-7") as refused:
        upgrade(database_url)
    assert "v1:" not in str(refused.value)  # the records are named, never the voter
    # Nothing changed: the guard is still there and the place is the entry's.
    assert "active_overrides" in sa.inspect(engine).get_table_names()
    assert _places(engine) == [("v1:o-live", "list_entry", "e-7")]
    engine.dispose()
