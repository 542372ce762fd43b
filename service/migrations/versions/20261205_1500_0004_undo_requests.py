"""undo requests: revoking an override or cancelling a day registration takes two operators

One operator's request stays open (``pending_key`` set, UNIQUE: one open request per
record) until a second operator approves or refuses it. On PostgreSQL the application role
may read, add and decide requests (an UPDATE), never delete them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "undo_requests",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("target_kind", AutoString(length=32), nullable=False),
        sa.Column("target_id", AutoString(length=36), nullable=False),
        sa.Column("requested_by", AutoString(length=200), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("reason", AutoString(length=1000), nullable=False),
        sa.Column("audit_seq", SEQ, nullable=False),
        sa.Column("pending_key", AutoString(length=80), nullable=True),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("decided_by", AutoString(length=200), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decision_reason", AutoString(length=1000), nullable=True),
        sa.Column("decision_audit_seq", SEQ, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pending_key"),
    )
    with op.batch_alter_table("undo_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_undo_requests_target_id"), ["target_id"], unique=False)
    _grant_application_role()


def _grant_application_role() -> None:
    role = context.config.attributes.get("app_role")
    if not role or op.get_bind().dialect.name != "postgresql":
        return
    quoted = op.get_bind().dialect.identifier_preparer.quote(role)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON undo_requests TO {quoted}")


def downgrade() -> None:
    with op.batch_alter_table("undo_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_undo_requests_target_id"))
    op.drop_table("undo_requests")
