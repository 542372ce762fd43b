"""PostgreSQL only: the audit log is append-only in the database itself (SPEC §8).

The migration role owns the schema; the service runs as an application role that may only
SELECT and INSERT audit rows; and even the owner meets a trigger that refuses UPDATE,
DELETE and TRUNCATE. Only a superuser can switch the trigger off, and then the hash chain
still names the changed entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from service.audit.log import AuditLog
from service.audit.signing import CheckpointSigner, CheckpointVerifier
from service.audit.verify import verify_database
from service.db import repository
from service.db.engine import open_database, write_session
from service.db.migrations import upgrade
from service.domain.model import ListEntryKind
from service.usecases.ports import ListEntryRecord
from tests.databases import POSTGRES_ADMIN_URL, create_database, drop_database
from tests.integration.test_list_places import twenty_concurrent_uses_of_one_certificate
from tests.support import NOW, Keys

pytestmark = pytest.mark.postgres


def _admin(sql: str, url: str | None = None) -> None:
    engine = create_engine(url or POSTGRES_ADMIN_URL or "", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(sql))
    engine.dispose()


@pytest.fixture
def roles() -> Iterator[tuple[str, str, str]]:
    """A database owned by a migration role, and an application role; yields their URLs."""
    suffix = uuid.uuid4().hex[:8]
    owner, app = f"voter_owner_{suffix}", f"voter_app_{suffix}"
    _admin(f"CREATE ROLE {owner} LOGIN")
    _admin(f"CREATE ROLE {app} LOGIN")
    url = create_database()
    name = make_url(url).database
    _admin(f'ALTER DATABASE "{name}" OWNER TO {owner}')
    _admin(f"ALTER SCHEMA public OWNER TO {owner}", url)
    owner_url = make_url(url).set(username=owner).render_as_string(hide_password=False)
    app_url = make_url(url).set(username=app).render_as_string(hide_password=False)
    upgrade(owner_url, app_role=app)
    yield url, owner_url, app_url
    drop_database(url)
    _admin(f"DROP ROLE {app}")
    _admin(f"DROP ROLE {owner}")


def _append(url: str, keys: Keys, count: int) -> None:
    database = open_database(url)
    log = AuditLog(CheckpointSigner(keys.audit_signing), checkpoint_every=5)
    for i in range(count):
        with write_session(database) as session:
            log.append(session, kind="test", subject=None, payload={"i": i}, recorded_at=NOW)
    database.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET kind = 'forged' WHERE seq = 3",
        "DELETE FROM audit_entries WHERE seq = 3",
        "TRUNCATE audit_entries",
        "UPDATE audit_checkpoints SET head_hash = 'x'",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_tree SET hash = hash WHERE level = 2",
        "DELETE FROM audit_tree",
        "TRUNCATE audit_tree",
    ],
)
def test_application_role_may_not_change_the_audit_log(
    roles: tuple[str, str, str], keys: Keys, statement: str
) -> None:
    _, _, app_url = roles
    _append(app_url, keys, 6)
    engine = create_engine(app_url)
    with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET kind = 'forged' WHERE seq = 3",
        "DELETE FROM audit_entries WHERE seq = 3",
        "TRUNCATE audit_entries CASCADE",
        "UPDATE audit_checkpoints SET head_hash = 'x'",
        "TRUNCATE audit_checkpoints",
        "UPDATE audit_tree SET hash = hash WHERE level = 2",
        "DELETE FROM audit_tree WHERE level = 2",
        "TRUNCATE audit_tree",
    ],
)
def test_even_the_schema_owner_meets_the_append_only_trigger(
    roles: tuple[str, str, str], keys: Keys, statement: str
) -> None:
    _, owner_url, app_url = roles
    _append(app_url, keys, 6)
    engine = create_engine(owner_url)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def test_a_superuser_who_disables_the_trigger_is_still_caught_by_the_chain(
    roles: tuple[str, str, str], keys: Keys
) -> None:
    url, _, app_url = roles
    _append(app_url, keys, 12)
    _admin("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_change", url)
    _admin("UPDATE audit_entries SET body = replace(body, 'test', 'tost') WHERE seq = 7", url)
    database = open_database(url)
    report = verify_database(database, verifier=CheckpointVerifier(keys.audit_public))
    database.dispose()
    assert not report.ok
    assert report.first_bad_seq == 7


def test_application_role_can_do_its_work(roles: tuple[str, str, str], keys: Keys) -> None:
    _, _, app_url = roles
    _append(app_url, keys, 6)
    database = open_database(app_url)
    report = verify_database(database, verifier=CheckpointVerifier(keys.audit_public))
    database.dispose()
    assert report.ok
    assert report.entries_checked == 6


def test_application_role_adds_and_cancels_list_entries_but_never_deletes_one(
    roles: tuple[str, str, str],
) -> None:
    _, _, app_url = roles
    at = NOW
    entry = ListEntryRecord(
        id="entry-1",
        election_id="2027-president",
        subject="v1:" + "ab" * 32,
        kind=ListEntryKind.SPECIAL_PRESENCE,
        precinct_id="75-0900",
        document_ref="letter 17/03",
        created_by="operator",
        created_at=at,
        audit_seq=1,
    )
    database = open_database(app_url)
    with write_session(database) as session:
        repository.ListEntries(session).add(entry)
    with write_session(database) as session:
        repository.ListEntries(session).cancel(
            "entry-1", by="op-2", at=at, reason="discharged", audit_seq=2
        )
    database.dispose()
    engine = create_engine(app_url)
    with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as connection:
        connection.execute(text("DELETE FROM list_entries"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM list_places")).scalar() == 0
    engine.dispose()


def test_twenty_concurrent_uses_of_one_certificate_on_postgresql_one_wins(
    roles: tuple[str, str, str], keys: Keys
) -> None:
    """As the application role: the grants let it issue and use certificates, and the
    primary key of the uses lets exactly one of twenty concurrent uses commit."""
    _, _, app_url = roles
    database = open_database(app_url)
    try:
        twenty_concurrent_uses_of_one_certificate(database, keys)
    finally:
        database.dispose()
    engine = create_engine(app_url)
    for statement in (
        "DELETE FROM absentee_certificate_uses",
        "UPDATE absentee_certificate_uses SET precinct_id = 'x'",
        "DELETE FROM absentee_certificates",
        "UPDATE absentee_certificates SET serial = 7",
    ):
        with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as connection:
            connection.execute(text(statement))
    engine.dispose()
