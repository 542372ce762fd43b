"""witnesses: observers' registered keys and their cosignatures of checkpoints (SPEC §17)

``audit_witnesses`` holds each observer's C2SP vkey (registered by an operator, audited);
``audit_cosignatures`` one signature line per witness and checkpoint size, verified against
the registered key and the stored note before it is kept. On PostgreSQL the application role
may read and add both, never change or delete them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 23:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlmodel.sql.sqltypes import AutoString

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_witnesses",
        sa.Column("name", AutoString(length=200), nullable=False),
        sa.Column("vkey", AutoString(length=400), nullable=False),
        sa.Column("registered_by", AutoString(length=200), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audit_seq", SEQ, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "audit_cosignatures",
        sa.Column("size", SEQ, autoincrement=False, nullable=False),
        sa.Column("witness", AutoString(length=200), nullable=False),
        sa.Column("line", AutoString(length=600), nullable=False),
        sa.Column("cosigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", "witness"),
    )
    role = context.config.attributes.get("app_role")
    if role and op.get_bind().dialect.name == "postgresql":
        quoted = op.get_bind().dialect.identifier_preparer.quote(role)
        op.execute(f"GRANT SELECT, INSERT ON audit_witnesses TO {quoted}")
        op.execute(f"GRANT SELECT, INSERT ON audit_cosignatures TO {quoted}")


def downgrade() -> None:
    op.drop_table("audit_cosignatures")
    op.drop_table("audit_witnesses")
