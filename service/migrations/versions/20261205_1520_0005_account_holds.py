"""account holds: an account past its role's distinct-voter threshold is held until an
operator lifts the hold

One hold in force per account (``active_key`` set to the account, UNIQUE); lifting clears
it with a conditional UPDATE. On PostgreSQL the application role may read, add and lift
holds (an UPDATE), never delete them.

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-05 15:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "account_holds",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("account", AutoString(length=200), nullable=False),
        sa.Column("role", AutoString(length=32), nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.Column("distinct_voters", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("audit_seq", SEQ, nullable=False),
        sa.Column("active_key", AutoString(length=200), nullable=True),
        sa.Column("lifted_by", AutoString(length=200), nullable=True),
        sa.Column("lifted_at", UTCDateTime(), nullable=True),
        sa.Column("lift_reason", AutoString(length=1000), nullable=True),
        sa.Column("lift_audit_seq", SEQ, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active_key"),
    )
    _grant_application_role()


def _grant_application_role() -> None:
    role = context.config.attributes.get("app_role")
    if not role or op.get_bind().dialect.name != "postgresql":
        return
    quoted = op.get_bind().dialect.identifier_preparer.quote(role)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON account_holds TO {quoted}")


def downgrade() -> None:
    op.drop_table("account_holds")
