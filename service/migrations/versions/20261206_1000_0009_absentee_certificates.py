"""absentee certificates: the serial and the one use of a certificate (SPEC §15 way 4)

A certificate is a list entry (kind ``absentee_certificate``, its precinct the issuing home
precinct) plus a row here: UNIQUE (election_id, voter_subject), so a voter gets one per
election ever, and UNIQUE (election_id, serial). Its use is a row of
``absentee_certificate_uses`` keyed by the entry: a second use is a primary-key violation.
``absentee_serials`` keeps each election's last serial: taking the next is one upsert, whose
row lock keeps concurrent issues in line. On PostgreSQL the application role adds rows to
the certificates and their uses, never edits or deletes them, and upserts the serials.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "absentee_certificates",
        sa.Column("entry_id", AutoString(length=36), nullable=False),
        sa.Column("election_id", AutoString(length=64), nullable=False),
        sa.Column("voter_subject", AutoString(length=80), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id"),
        sa.UniqueConstraint("election_id", "voter_subject", name="uq_absentee_certificates_voter"),
        sa.UniqueConstraint("election_id", "serial", name="uq_absentee_certificates_serial"),
    )
    op.create_table(
        "absentee_serials",
        sa.Column("election_id", AutoString(length=64), nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("election_id"),
    )
    op.create_table(
        "absentee_certificate_uses",
        sa.Column("entry_id", AutoString(length=36), nullable=False),
        sa.Column("election_id", AutoString(length=64), nullable=False),
        sa.Column("precinct_id", AutoString(length=32), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=False),
        sa.Column("used_by", AutoString(length=200), nullable=False),
        sa.Column("audit_seq", SEQ, nullable=False),
        sa.PrimaryKeyConstraint("entry_id"),
    )
    _grant_application_role()


def _grant_application_role() -> None:
    role = context.config.attributes.get("app_role")
    if not role or op.get_bind().dialect.name != "postgresql":
        return
    quoted = op.get_bind().dialect.identifier_preparer.quote(role)
    op.execute(f"GRANT SELECT, INSERT ON absentee_certificates TO {quoted}")
    op.execute(f"GRANT SELECT, INSERT ON absentee_certificate_uses TO {quoted}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON absentee_serials TO {quoted}")


def downgrade() -> None:
    op.drop_table("absentee_certificate_uses")
    op.drop_table("absentee_serials")
    op.drop_table("absentee_certificates")
