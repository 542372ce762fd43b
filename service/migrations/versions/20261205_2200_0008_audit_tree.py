"""audit tree: the Merkle tree over the audit entries (SPEC §17), and checkpoints as notes

``audit_tree`` holds every perfect subtree hash of the RFC 9162 tree whose leaves are the
entries' canonical bodies (service/audit/merkle.py) from level 2 (subtrees of four entries) up:
about half a row per entry, written by
``AuditLog.append_many`` with the entries, append-only like them. This migration builds the
tree of an existing log in batches, recomputing every entry hash and link on the way, and
refuses a broken chain: a tree over tampered entries would vouch for them.

``audit_checkpoints`` gains the root at each checkpoint's size and the C2SP tlog-checkpoint
note signed with the service's key. Checkpoints signed before this migration keep both NULL
(their JSON-format signature still verifies; the next checkpoint carries a note).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 22:00:00

"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from service.audit.chain import GENESIS_HASH, entry_hash
from service.audit.merkle import CompactRange, leaf_hash
from service.audit.tables import AUDIT_TREE_LOWEST_LEVEL

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCH = 10_000


class BrokenChain(RuntimeError):
    """The existing log does not verify: no tree is built over it."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"migration 0008 refuses to build the audit tree over a broken chain: {reason}. "
            "Nothing was changed; run `voterctl audit verify` to see what was altered."
        )


def upgrade() -> None:
    connection = op.get_bind()
    # First a read-only pass: SQLite runs DDL outside the migration's transaction, so a
    # refusal must come before anything is created.
    _walk(connection, None)
    op.create_table(
        "audit_tree",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("node", SEQ, autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "node"),
        sqlite_with_rowid=False,
    )
    # Plain ADD COLUMN (no batch copy): the table's append-only triggers stay in place.
    op.add_column("audit_checkpoints", sa.Column("root_hash", sa.String(64), nullable=True))
    op.add_column("audit_checkpoints", sa.Column("note", sa.Text(), nullable=True))
    _walk(connection, sa.text("INSERT INTO audit_tree (level, node, hash) VALUES (:l, :n, :h)"))
    _make_append_only()
    _grant_application_role()


def _claimed_seq(body: str) -> object:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed.get("seq") if isinstance(parsed, dict) else None


def _walk(connection: sa.Connection, insert: sa.TextClause | None) -> None:
    """Stream the log in keyset batches and check every entry (its seq, its link to the one
    before, its entry_hash recomputed, the head at each checkpoint); with ``insert``, also
    store the perfect subtrees each entry completes, one executemany per batch."""
    checkpoints = sa.text("SELECT size, head_hash FROM audit_checkpoints")
    heads: dict[int, str] = dict(connection.execute(checkpoints).all())
    # Tests pass a small batch (alembic attribute) to cross batch boundaries.
    batch_size = int(context.config.attributes.get("audit_tree_batch", BATCH))
    select = sa.text(
        "SELECT seq, prev_hash, entry_hash, body FROM audit_entries "
        "WHERE seq > :after ORDER BY seq LIMIT :limit"
    )
    tree = CompactRange()
    previous = GENESIS_HASH
    while True:
        batch = connection.execute(select, {"after": tree.size, "limit": batch_size}).all()
        rows: list[dict[str, object]] = []
        for seq, prev_hash, digest, body in batch:
            expected = tree.size + 1
            if seq != expected:
                raise BrokenChain(f"seq {expected} is missing (found {seq} next)")
            if prev_hash != previous:
                raise BrokenChain(f"seq {seq}: prev_hash does not link to seq {seq - 1}")
            try:
                recomputed = entry_hash(prev_hash, body)
            except (ValueError, TypeError):
                recomputed = None
            if recomputed != digest:
                raise BrokenChain(f"seq {seq}: the body does not match its entry_hash")
            claimed = _claimed_seq(body)
            if claimed != seq:
                raise BrokenChain(f"seq {seq}: the body claims seq {claimed}")
            if seq in heads and heads[seq] != digest:
                raise BrokenChain(f"seq {seq}: the chain differs from the checkpoint signed there")
            rows.extend(
                {"l": level, "n": node, "h": hash_}
                for level, node, hash_ in tree.append(leaf_hash(body.encode("utf-8")))
                if level >= AUDIT_TREE_LOWEST_LEVEL
            )
            previous = digest
        if insert is not None and rows:
            connection.execute(insert, rows)
        if len(batch) < batch_size:
            break
    beyond = [size for size in heads if size > tree.size]
    if beyond:
        raise BrokenChain(f"a checkpoint covers {max(beyond)} entries, the log has {tree.size}")


def _make_append_only() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_tree_no_{verb.lower()} BEFORE {verb} ON audit_tree "
                "BEGIN SELECT RAISE(ABORT, 'audit_tree is append-only'); END"
            )
    if dialect == "postgresql":
        # audit_append_only() is migration 0001's.
        op.execute(
            "CREATE TRIGGER audit_tree_no_change BEFORE UPDATE OR DELETE ON audit_tree "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_tree_no_truncate BEFORE TRUNCATE ON audit_tree "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )
        op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_tree FROM PUBLIC")


def _grant_application_role() -> None:
    role = context.config.attributes.get("app_role")
    if not role or op.get_bind().dialect.name != "postgresql":
        return
    quoted = op.get_bind().dialect.identifier_preparer.quote(role)
    op.execute(f"GRANT SELECT, INSERT ON audit_tree TO {quoted}")


def downgrade() -> None:
    op.drop_table("audit_tree")
    op.execute("ALTER TABLE audit_checkpoints DROP COLUMN note")
    op.execute("ALTER TABLE audit_checkpoints DROP COLUMN root_hash")
