"""The Merkle tree stored with the audit log (SPEC §17): written with every append, the same
tree an independent reference builds from the entries' bodies, signed as C2SP notes at every
checkpoint, built for an existing log by migration 0008, append-only. SQLite and PostgreSQL
(``database_url``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import DBAPIError

from service.audit import tree
from service.audit.chain import GENESIS_HASH, Problem, canonical_body, entry_hash
from service.audit.log import AuditLog, AuditReader, NewEntry
from service.audit.merkle import (
    MemorySubtreeHashes,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from service.audit.note import (
    DEFAULT_ORIGIN,
    NoteSigner,
    VerifierKey,
    open_checkpoint,
    sign_checkpoint,
)
from service.audit.note import Checkpoint as NoteCheckpoint
from service.audit.signing import CheckpointSigner, CheckpointVerifier, generate_signing_key
from service.audit.tables import AUDIT_TREE_LOWEST_LEVEL
from service.audit.verify import verify_database
from service.clock import SystemClock
from service.db.engine import Database, open_database, read_session, write_session
from service.db.migrations import alembic_config, create_schema, upgrade
from tests.clocks import FakeClock
from tests.merkle_reference import Reference, reference_root_from_path

AT = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
SIGNER = CheckpointSigner(generate_signing_key())
VKEY = VerifierKey.of(DEFAULT_ORIGIN, SIGNER.private_key.public_key())
VERIFIER = CheckpointVerifier(SIGNER.public_key_pem)


class Rollback(Exception):
    pass


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    create_schema(db)
    yield db
    db.dispose()


def entries(count: int, start: int = 0) -> list[NewEntry]:
    return [
        NewEntry(kind="test", subject=None, payload={"n": start + i}, recorded_at=AT)
        for i in range(count)
    ]


def stored_rows(database: Database) -> dict[tuple[int, int], bytes]:
    with database.reader.connect() as connection:
        rows = connection.execute(sa.text("SELECT level, node, hash FROM audit_tree"))
        return {(int(level), int(node)): bytes(h) for level, node, h in rows}


def bodies(database: Database) -> list[bytes]:
    with read_session(database) as session:
        return [e.body.encode() for e in AuditReader().iter_entries(session)]


def from_scratch(database: Database) -> dict[tuple[int, int], bytes]:
    """Every perfect subtree of the tree over the stored bodies from the lowest stored level
    up (subtrees of 4 entries: below that they are hashed from the bodies), built in memory."""
    store = MemorySubtreeHashes(leaf_hash(body) for body in bodies(database))
    expected = {}
    for level in range(AUDIT_TREE_LOWEST_LEVEL, 64):
        for node in range(store.size >> level):
            expected[(level, node)] = store.hash_of(level, node)
    return expected


def test_every_append_stores_the_subtrees_of_the_tree_over_the_bodies(
    database: Database,
) -> None:
    log = AuditLog(SIGNER, checkpoint_every=1000)
    for size in (1, 1, 3, 7, 1, 16, 2):  # batches crossing every power-of-two boundary
        with write_session(database) as session:
            log.append_many(session, entries(size))
    assert stored_rows(database) == from_scratch(database)
    assert AUDIT_TREE_LOWEST_LEVEL == 2
    assert len(stored_rows(database)) == 7 + 3 + 1  # 31 entries: 7 quads, 3 octets, 1 of 16
    reference = Reference(bodies(database))
    with read_session(database) as session:
        for size in (1, 5, 16, 31):
            assert AuditReader().tree_root(session, size) == reference.root(size)


def test_a_rolled_back_append_leaves_no_subtree_and_the_next_append_builds_on_the_head(
    database: Database,
) -> None:
    log = AuditLog(SIGNER, checkpoint_every=1000)
    with write_session(database) as session:
        log.append_many(session, entries(5))

    def append_then_fail() -> None:
        with write_session(database) as session:
            log.append_many(session, entries(6, start=100))
            raise Rollback

    with pytest.raises(Rollback):
        append_then_fail()
    # Another writer (a second process: its own AuditLog) appends meanwhile.
    with write_session(database) as session:
        AuditLog(SIGNER, checkpoint_every=1000).append_many(session, entries(2, start=200))
    with write_session(database) as session:
        log.append_many(session, entries(4, start=300))
    assert stored_rows(database) == from_scratch(database)
    assert len(bodies(database)) == 11


def test_each_checkpoint_is_a_note_signed_by_the_service_key_over_the_root_at_its_size(
    database: Database,
) -> None:
    wall = FakeClock(AT.timestamp())
    log = AuditLog(SIGNER, checkpoint_every=4, wall_clock=SystemClock(wall))
    with write_session(database) as session:
        log.append_many(session, entries(9))
    wall.advance(61)
    with write_session(database) as session:
        log.checkpoint_if_due(session)
    reference = Reference(bodies(database))
    with read_session(database) as session:
        checkpoints = AuditReader().checkpoints(session)
    assert [c.size for c in checkpoints] == [4, 8, 9]
    for checkpoint in checkpoints:
        assert checkpoint.note is not None
        head, _ = open_checkpoint(checkpoint.note, origin=DEFAULT_ORIGIN, log_key=VKEY)
        assert head.size == checkpoint.size
        assert head.root_hash == reference.root(checkpoint.size)
        assert checkpoint.root_hash == head.root_hash.hex()
        assert checkpoint.note.startswith(
            f"{DEFAULT_ORIGIN}\n{checkpoint.size}\n"
            f"{base64.b64encode(reference.root(checkpoint.size)).decode()}\n\n— {DEFAULT_ORIGIN} "
        )


def test_the_origin_names_the_log_in_the_note_and_the_key(database: Database) -> None:
    log = AuditLog(SIGNER, checkpoint_every=1, origin="example.org/voters-test")
    with write_session(database) as session:
        log.append_many(session, entries(1))
    with read_session(database) as session:
        [checkpoint] = AuditReader().checkpoints(session)
    assert checkpoint.note is not None
    key = VerifierKey.of("example.org/voters-test", SIGNER.private_key.public_key())
    head, _ = open_checkpoint(checkpoint.note, origin="example.org/voters-test", log_key=key)
    assert head.size == 1


def test_proofs_read_from_the_database_verify_against_the_reference(
    database: Database,
) -> None:
    log = AuditLog(SIGNER, checkpoint_every=1000)
    with write_session(database) as session:
        log.append_many(session, entries(37))
    leaves = bodies(database)
    reference = Reference(leaves)
    reader = AuditReader()
    with read_session(database) as session:
        for seq, size in ((1, 1), (1, 37), (20, 37), (37, 37), (8, 8), (9, 12)):
            proof = reader.inclusion(session, seq=seq, tree_size=size)
            assert proof is not None
            assert proof.entry.body.encode() == leaves[seq - 1]
            assert proof.path == reference.inclusion(seq - 1, size)
            leaf = leaf_hash(leaves[seq - 1])
            assert reference_root_from_path(leaf, seq - 1, size, proof.path) == reference.root(size)
        for first, second in ((1, 37), (8, 37), (13, 37), (37, 37), (5, 6)):
            path = reader.consistency(session, first=first, second=second)
            assert path == reference.consistency(first, second)
            assert verify_consistency(
                first=first,
                second=second,
                first_root=reference.root(first),
                second_root=reference.root(second),
                proof=path,
            )


def test_a_proof_reads_its_subtrees_in_one_query_and_its_low_nodes_in_another(
    database: Database,
) -> None:
    log = AuditLog(SIGNER, checkpoint_every=1000)
    with write_session(database) as session:
        log.append_many(session, entries(300))
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    with database.reader.connect() as connection:
        sa.event.listen(connection, "before_cursor_execute", count)
        path = tree.inclusion_proof(connection, index=150, tree_size=299)
        assert len([s for s in statements if "audit_tree" in s]) == 1
        assert len([s for s in statements if "FROM audit_entries" in s]) == 1
        root = tree.root_at(connection, 299)
    assert verify_inclusion(
        leaf=leaf_hash(bodies(database)[150]), index=150, tree_size=299, proof=path, root=root
    )


# --- migration 0008 -------------------------------------------------------------------------


def write_log_at_0007(url: str, count: int) -> None:
    """A log as the code before the tree wrote it: entries and a checkpoint, no tree."""
    command.upgrade(alembic_config(url), "0007")
    engine = sa.create_engine(url)
    previous = GENESIS_HASH
    with engine.begin() as connection:
        for seq in range(1, count + 1):
            at = AT + timedelta(seconds=seq)
            body = canonical_body(
                seq=seq, kind="test", recorded_at=at, subject=None, payload={"n": seq}
            )
            digest = entry_hash(previous, body)
            connection.execute(
                sa.text(
                    "INSERT INTO audit_entries (seq, prev_hash, entry_hash, kind, subject, body, "
                    "recorded_at) VALUES (:seq, :prev, :digest, 'test', NULL, :body, :at)"
                ),
                {"seq": seq, "prev": previous, "digest": digest, "body": body, "at": at},
            )
            previous = digest
    engine.dispose()


def test_migration_0008_builds_the_tree_of_an_existing_log_as_appends_would_have(
    database_url: str,
) -> None:
    write_log_at_0007(database_url, 50)
    config = alembic_config(database_url)
    config.attributes["audit_tree_batch"] = 7  # crosses batch boundaries mid-tree
    command.upgrade(config, "head")
    database = open_database(database_url)
    try:
        assert stored_rows(database) == from_scratch(database)
        # And the log carries on from there.
        log = AuditLog(SIGNER, checkpoint_every=1000)
        with write_session(database) as session:
            log.append_many(session, entries(14))
        assert stored_rows(database) == from_scratch(database)
    finally:
        database.dispose()


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (
            "UPDATE audit_entries SET body = replace(body, '\"n\":7', '\"n\":8') WHERE seq = 7",
            "seq 7: the body does not match its entry_hash",
        ),
        ("DELETE FROM audit_entries WHERE seq = 12", "seq 12 is missing"),
    ],
)
def test_migration_0008_refuses_a_broken_chain_naming_the_entry_and_changes_nothing(
    database_url: str, tamper: str, reason: str
) -> None:
    write_log_at_0007(database_url, 20)
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(sa.text("DROP TRIGGER audit_entries_no_update"))
            connection.execute(sa.text("DROP TRIGGER audit_entries_no_delete"))
        else:
            connection.execute(sa.text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
        connection.exec_driver_sql(tamper)
    with pytest.raises(RuntimeError, match="refuses to build the audit tree") as refused:
        upgrade(database_url)
    assert reason in str(refused.value)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == (
            "0007"
        )
        assert not sa.inspect(connection).has_table("audit_tree")
    engine.dispose()


def test_the_tree_is_append_only_in_the_database(database: Database) -> None:
    log = AuditLog(SIGNER, checkpoint_every=1000)
    with write_session(database) as session:
        log.append_many(session, entries(4))
    for statement in (
        "UPDATE audit_tree SET hash = hash WHERE level = 2",
        "DELETE FROM audit_tree",
    ):
        with pytest.raises(DBAPIError, match="append-only"), database.writer.begin() as conn:
            conn.execute(sa.text(statement))
    assert stored_rows(database) == from_scratch(database)


def test_bodies_are_what_the_leaves_hash(database: Database) -> None:
    """The leaf of entry seq is its canonical body as stored, which names its own seq."""
    log = AuditLog(SIGNER, checkpoint_every=1000)
    with write_session(database) as session:
        log.append_many(session, entries(4))
    leaves = []
    for seq, body in enumerate(bodies(database), start=1):
        assert json.loads(body)["seq"] == seq
        leaves.append(leaf_hash(body))
    pairs = [node_hash(leaves[0], leaves[1]), node_hash(leaves[2], leaves[3])]
    assert stored_rows(database) == {(2, 0): node_hash(*pairs)}


# --- verification of the stored tree ----------------------------------------------------------


def tamper(database: Database, statement: str, **parameters: object) -> None:
    """As someone with the database's owner rights: the append-only triggers off first."""
    with database.writer.begin() as connection:
        if connection.dialect.name == "sqlite":
            names = connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).all()
            for (name,) in names:
                connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
        else:
            for table in ("audit_tree", "audit_checkpoints", "audit_entries"):
                connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        connection.execute(sa.text(statement), parameters)


@pytest.fixture
def checked_log(database: Database) -> Database:
    """Entries 1..12, checkpoints (with notes) at 4, 8 and 12, verified clean first."""
    log = AuditLog(SIGNER, checkpoint_every=4)
    for size in (3, 5, 4):
        with write_session(database) as session:
            log.append_many(session, entries(size))
    report = verify_database(database, verifier=VERIFIER)
    assert report.ok, report.detail
    assert report.checkpoints_checked == 3
    return database


def caught(database: Database) -> tuple[int | None, Problem | None, str]:
    report = verify_database(database, verifier=VERIFIER)
    assert not report.ok
    return report.first_bad_seq, report.problem, report.detail


def hex_of(database: Database, value: bytes) -> str:
    """A blob literal for either database."""
    return f"X'{value.hex()}'" if database.is_sqlite else f"'\\x{value.hex()}'::bytea"


@pytest.mark.parametrize(
    ("level", "node", "first", "last"), [(2, 1, 5, 8), (2, 2, 9, 12), (3, 0, 1, 8)]
)
def test_a_rewritten_stored_subtree_is_a_tree_mismatch_naming_its_entries(
    checked_log: Database, level: int, node: int, first: int, last: int
) -> None:
    forged = hex_of(checked_log, b"\x55" * 32)
    tamper(
        checked_log,
        f"UPDATE audit_tree SET hash = {forged} WHERE level = {level} AND node = {node}",
    )
    seq, problem, detail = caught(checked_log)
    assert (seq, problem) == (first, Problem.TREE_MISMATCH)
    assert f"seqs {first}-{last}" in detail


def test_a_missing_stored_subtree_is_a_tree_mismatch(checked_log: Database) -> None:
    tamper(checked_log, "DELETE FROM audit_tree WHERE level = 2 AND node = 2")
    assert caught(checked_log)[:2] == (9, Problem.TREE_MISMATCH)


def test_a_checkpoint_note_edited_to_another_root_is_a_bad_signature(
    checked_log: Database,
) -> None:
    tamper(
        checked_log,
        "UPDATE audit_checkpoints SET note = replace(note, '\n8\n', '\n9\n') WHERE size = 8",
    )
    seq, problem, detail = caught(checked_log)
    assert (seq, problem) == (8, Problem.BAD_SIGNATURE)
    assert "invalid signature" in detail


def test_a_root_hash_column_that_is_not_the_signed_root_is_a_tree_mismatch(
    checked_log: Database,
) -> None:
    tamper(checked_log, f"UPDATE audit_checkpoints SET root_hash = '{'ab' * 32}' WHERE size = 4")
    assert caught(checked_log)[:2] == (4, Problem.TREE_MISMATCH)


def test_a_note_signed_by_another_key_for_a_forked_root_is_refused(checked_log: Database) -> None:
    """A forger with a key of their own signs a note for the same size and another root."""
    forger = NoteSigner(DEFAULT_ORIGIN, CheckpointSigner(generate_signing_key()).private_key)
    forged = sign_checkpoint(NoteCheckpoint(DEFAULT_ORIGIN, 12, b"\x01" * 32), forger)
    tamper(checked_log, "UPDATE audit_checkpoints SET note = :note WHERE size = 12", note=forged)
    seq, problem, detail = caught(checked_log)
    assert (seq, problem) == (12, Problem.BAD_SIGNATURE)
    assert "no signature by a known key" in detail


def test_a_batch_large_enough_for_copy_stores_the_same_tree(database: Database) -> None:
    """Over a thousand subtrees at once go by COPY on PostgreSQL (the voter-list compile's
    batches), by executemany elsewhere: the same rows either way."""
    log = AuditLog(SIGNER, checkpoint_every=100_000)
    with write_session(database) as session:
        log.append_many(session, entries(4500))
    stored = stored_rows(database)
    assert len(stored) > 1000
    assert stored == from_scratch(database)
