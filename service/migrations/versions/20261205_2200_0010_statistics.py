"""public aggregates: decision counts folded from the audit log, and the fold's position

``statistics_decisions`` counts decisions per election, precinct, source, outcome and basis
(codes and ids only); ``statistics_position`` is one row, the seq the audit log has been
folded up to (0: nothing yet; the service folds an existing log in batches as it runs). On
PostgreSQL the application role may read, add and update both, never delete.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 22:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "statistics_decisions",
        sa.Column("election_id", AutoString(length=64), nullable=False),
        sa.Column("precinct_id", AutoString(length=32), nullable=False),
        sa.Column("source", AutoString(length=32), nullable=False),
        sa.Column("outcome", AutoString(length=32), nullable=False),
        sa.Column("basis", AutoString(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("election_id", "precinct_id", "source", "outcome", "basis"),
    )
    op.create_table(
        "statistics_position",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("folded_seq", SEQ, nullable=False),
        sa.Column("folded_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO statistics_position (id, folded_seq) VALUES (1, 0)")
    role = context.config.attributes.get("app_role")
    if role and op.get_bind().dialect.name == "postgresql":
        quoted = op.get_bind().dialect.identifier_preparer.quote(role)
        op.execute(f"GRANT SELECT, INSERT, UPDATE ON statistics_decisions TO {quoted}")
        op.execute(f"GRANT SELECT, UPDATE ON statistics_position TO {quoted}")


def downgrade() -> None:
    op.drop_table("statistics_position")
    op.drop_table("statistics_decisions")
