"""override places: an active override holds the voter's one place on a list (SPEC §15)

Until now an active override held a row of its own table, ``active_overrides``, which kept
one active override per voter and election but let a list entry, a certificate or a day
registration place the same voter beside it. Each guard row becomes the override's row in
``list_places`` (holder kind ``override``) and the table is dropped: the primary key of
``list_places`` now refuses a second record of any kind, overrides included.

A voter whose override is still in force and who also holds a place by another record
cannot be carried over without choosing between them: the upgrade stops, naming the two
records (never the voter), and changes nothing; an operator revokes or cancels one of them
first. A guard left behind by an override that has expired is dropped.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 02:00:00

"""

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import context, op
from sqlmodel.sql.sqltypes import AutoString

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An override's expiry date is a calendar day in Kazakhstan (service.domain.overrides).
KAZAKHSTAN_ZONE = ZoneInfo("Asia/Almaty")


def upgrade() -> None:
    bind = op.get_bind()
    today = dt.datetime.now(KAZAKHSTAN_ZONE).date()
    # A guard exists only for an approved override not revoked; expired ones may linger.
    clashes = bind.execute(
        sa.text(
            "SELECT g.override_id, p.holder_kind, p.holder_id "
            "FROM active_overrides g JOIN overrides o ON o.id = g.override_id "
            "JOIN list_places p ON p.election_id = g.election_id AND p.voter_subject = g.subject "
            "WHERE o.expires_on >= :today ORDER BY g.override_id"
        ),
        {"today": today},
    ).all()
    if clashes:
        named = "; ".join(f"override {o} and {kind} {holder}" for o, kind, holder in clashes)
        raise RuntimeError(
            f"{len(clashes)} voter(s) hold a place by an active override and by another "
            f"record: {named}. Revoke the override or cancel the other record, then upgrade."
        )
    op.execute(
        "INSERT INTO list_places (election_id, voter_subject, holder_kind, holder_id) "
        "SELECT g.election_id, g.subject, 'override', g.override_id FROM active_overrides g "
        "WHERE NOT EXISTS (SELECT 1 FROM list_places p "
        "WHERE p.election_id = g.election_id AND p.voter_subject = g.subject)"
    )
    op.drop_table("active_overrides")


def downgrade() -> None:
    op.create_table(
        "active_overrides",
        sa.Column("election_id", AutoString(length=64), nullable=False),
        sa.Column("subject", AutoString(length=80), nullable=False),
        sa.Column("override_id", AutoString(length=36), nullable=False),
        sa.ForeignKeyConstraint(["override_id"], ["overrides.id"]),
        sa.PrimaryKeyConstraint("election_id", "subject"),
    )
    op.execute(
        "INSERT INTO active_overrides (election_id, subject, override_id) "
        "SELECT election_id, voter_subject, holder_id FROM list_places "
        "WHERE holder_kind = 'override'"
    )
    op.execute("DELETE FROM list_places WHERE holder_kind = 'override'")
    role = context.config.attributes.get("app_role")
    if role and op.get_bind().dialect.name == "postgresql":
        quoted = op.get_bind().dialect.identifier_preparer.quote(role)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON active_overrides TO {quoted}")
