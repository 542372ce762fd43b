"""list entries: the ways onto a list of SPEC §15 (presence lists of special precincts, so
far), and one place on a list per voter and election

``list_places`` has the primary key (election_id, voter_subject): every way onto a list
inserts its row in the same transaction as the record, so the database refuses a second
whatever the kinds. The active day registrations are backfilled as holders. On PostgreSQL
the application role may add and cancel entries (an UPDATE), never delete them; it may
add and delete places (a cancellation frees one).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-05 18:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "list_entries",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("election_id", AutoString(length=64), nullable=False),
        sa.Column("voter_subject", AutoString(length=80), nullable=False),
        sa.Column("kind", AutoString(length=32), nullable=False),
        sa.Column("precinct_id", AutoString(length=32), nullable=False),
        sa.Column("document_ref", AutoString(length=200), nullable=False),
        sa.Column("created_by", AutoString(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("audit_seq", SEQ, nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("cancelled_by", AutoString(length=200), nullable=True),
        sa.Column("cancel_reason", AutoString(length=1000), nullable=True),
        sa.Column("cancel_audit_seq", SEQ, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_list_entries_voter_subject", "list_entries", ["voter_subject"])
    op.create_index("ix_list_entries_created_at_id", "list_entries", ["created_at", "id"])
    op.create_table(
        "list_places",
        sa.Column("election_id", AutoString(length=64), nullable=False),
        sa.Column("voter_subject", AutoString(length=80), nullable=False),
        sa.Column("holder_kind", AutoString(length=32), nullable=False),
        sa.Column("holder_id", AutoString(length=36), nullable=False),
        sa.PrimaryKeyConstraint("election_id", "voter_subject"),
    )
    # The UNIQUE active_key of day_registrations allows one active registration per voter
    # and election: no two rows collide here.
    op.execute(
        "INSERT INTO list_places (election_id, voter_subject, holder_kind, holder_id) "
        "SELECT election_id, subject, 'day_registration', id FROM day_registrations "
        "WHERE active_key IS NOT NULL"
    )
    _grant_application_role()


def _grant_application_role() -> None:
    role = context.config.attributes.get("app_role")
    if not role or op.get_bind().dialect.name != "postgresql":
        return
    quoted = op.get_bind().dialect.identifier_preparer.quote(role)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON list_entries TO {quoted}")
    op.execute(f"GRANT SELECT, INSERT, DELETE ON list_places TO {quoted}")


def downgrade() -> None:
    op.drop_table("list_places")
    op.drop_index("ix_list_entries_created_at_id", table_name="list_entries")
    op.drop_index("ix_list_entries_voter_subject", table_name="list_entries")
    op.drop_table("list_entries")
