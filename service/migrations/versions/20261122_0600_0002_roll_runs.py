"""roll runs: compiled voter lists and their committed chunks (issue 5)

``roll_chunks`` rows commit in the same transaction as the chunk's audit entries, which is
what makes a resumed compile neither repeat nor skip anyone. On PostgreSQL the application
role may read and write runs (a run is marked complete) and only add chunks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "roll_runs",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("election_id", AutoString(length=64), nullable=False),
        sa.Column("out_dir", AutoString(length=1000), nullable=False),
        sa.Column("format", AutoString(length=16), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("snapshot", AutoString(length=64), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("audit_seq", SEQ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("roll_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_roll_runs_election_id"), ["election_id"], unique=False)
    op.create_table(
        "roll_chunks",
        sa.Column("run_id", AutoString(length=36), nullable=False),
        sa.Column("chunk_no", sa.Integer(), nullable=False),
        sa.Column("cursor", AutoString(length=64), nullable=True),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("first_seq", SEQ, nullable=False),
        sa.Column("last_seq", SEQ, nullable=False),
        sa.Column("part_sha256", AutoString(length=64), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("committed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["roll_runs.id"]),
        sa.PrimaryKeyConstraint("run_id", "chunk_no"),
    )
    _grant_application_role()


def _grant_application_role() -> None:
    role = context.config.attributes.get("app_role")
    if not role or op.get_bind().dialect.name != "postgresql":
        return
    quoted = op.get_bind().dialect.identifier_preparer.quote(role)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON roll_runs TO {quoted}")
    op.execute(f"GRANT SELECT, INSERT ON roll_chunks TO {quoted}")


def downgrade() -> None:
    op.drop_table("roll_chunks")
    with op.batch_alter_table("roll_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roll_runs_election_id"))
    op.drop_table("roll_runs")
