"""reference data in versions (SPEC §16, issue 12)

A precinct or election import no longer overwrites the set in force: it adds a numbered
version (``reference_imports.version``, one sequence per kind, with the file's SHA-256 and
who imported it), and the sets are kept whole per version in ``precinct_versions`` and
``election_versions``. The current set is the one of the newest version of its kind. The
rows in force before this migration become the newest existing version (0 if the database
never saw an import). On PostgreSQL the application role may only read and add versions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 14:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlmodel.sql.sqltypes import AutoString

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("reference_imports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("sha256", AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("actor", AutoString(length=200), nullable=True))
    newest: dict[str, int] = {}
    imports = bind.execute(sa.text("SELECT id, kind FROM reference_imports ORDER BY id")).all()
    for import_id, kind in imports:
        newest[kind] = newest.get(kind, 0) + 1
        bind.execute(
            sa.text("UPDATE reference_imports SET version = :v WHERE id = :id"),
            {"v": newest[kind], "id": import_id},
        )
    with op.batch_alter_table("reference_imports", schema=None) as batch_op:
        batch_op.alter_column("version", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint("uq_reference_imports_kind_version", ["kind", "version"])

    op.create_table(
        "precinct_versions",
        sa.Column("set_version", sa.Integer(), nullable=False),
        sa.Column("id", AutoString(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kato", AutoString(length=9), nullable=False),
        sa.Column("kind", AutoString(length=16), nullable=False),
        sa.Column("country", AutoString(length=3), nullable=False),
        sa.Column("day_registration", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("set_version", "id"),
    )
    op.create_table(
        "election_versions",
        sa.Column("set_version", sa.Integer(), nullable=False),
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("voting_day", sa.Date(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("set_version", "id"),
    )
    bind.execute(
        sa.text(
            "INSERT INTO precinct_versions "
            "(set_version, id, number, kato, kind, country, day_registration, body) "
            "SELECT :v, id, number, kato, kind, country, day_registration, body FROM precincts"
        ),
        {"v": newest.get("precincts", 0)},
    )
    bind.execute(
        sa.text(
            "INSERT INTO election_versions (set_version, id, voting_day, body) "
            "SELECT :v, id, voting_day, body FROM elections"
        ),
        {"v": newest.get("elections", 0)},
    )
    with op.batch_alter_table("precincts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_precincts_kato"))
        batch_op.drop_index(batch_op.f("ix_precincts_day_registration"))
        batch_op.drop_index(batch_op.f("ix_precincts_country"))
    op.drop_table("precincts")
    op.drop_table("elections")
    _grant_application_role()


def _grant_application_role() -> None:
    role = context.config.attributes.get("app_role")
    if not role or op.get_bind().dialect.name != "postgresql":
        return
    quoted = op.get_bind().dialect.identifier_preparer.quote(role)
    # A version, once added, is never edited: the application role may only read and add.
    op.execute(f"GRANT SELECT, INSERT ON precinct_versions TO {quoted}")
    op.execute(f"GRANT SELECT, INSERT ON election_versions TO {quoted}")


def downgrade() -> None:
    """Back to one set per kind: the newest version of each (development only)."""
    bind = op.get_bind()
    op.create_table(
        "precincts",
        sa.Column("id", AutoString(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kato", AutoString(length=9), nullable=False),
        sa.Column("kind", AutoString(length=16), nullable=False),
        sa.Column("country", AutoString(length=3), nullable=False),
        sa.Column("day_registration", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("precincts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_precincts_country"), ["country"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_precincts_day_registration"), ["day_registration"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_precincts_kato"), ["kato"], unique=False)
    op.create_table(
        "elections",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("voting_day", sa.Date(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    bind.execute(
        sa.text(
            "INSERT INTO precincts (id, number, kato, kind, country, day_registration, body) "
            "SELECT id, number, kato, kind, country, day_registration, body "
            "FROM precinct_versions WHERE set_version = "
            "(SELECT COALESCE(MAX(set_version), 0) FROM precinct_versions)"
        )
    )
    bind.execute(
        sa.text(
            "INSERT INTO elections (id, voting_day, body) SELECT id, voting_day, body "
            "FROM election_versions WHERE set_version = "
            "(SELECT COALESCE(MAX(set_version), 0) FROM election_versions)"
        )
    )
    op.drop_table("election_versions")
    op.drop_table("precinct_versions")
    with op.batch_alter_table("reference_imports", schema=None) as batch_op:
        batch_op.drop_constraint("uq_reference_imports_kind_version", type_="unique")
        batch_op.drop_column("actor")
        batch_op.drop_column("sha256")
        batch_op.drop_column("version")
