"""listing indexes: the operators' listings of overrides and day registrations

Both listings read in (instant, id) order from a keyset cursor; without these indexes each
page would sort the whole table.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-05 09:00:00

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_overrides_created_at_id", "overrides", ["created_at", "id"])
    op.create_index(
        "ix_day_registrations_registered_at_id", "day_registrations", ["registered_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_day_registrations_registered_at_id", table_name="day_registrations")
    op.drop_index("ix_overrides_created_at_id", table_name="overrides")
