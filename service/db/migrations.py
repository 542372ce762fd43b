"""Schema migrations with Alembic: ``voterctl db upgrade`` and the startup check.

Production runs migrations once, from a Job, with a role that owns the schema; replicas
only check at startup that the schema is at the head revision and refuse to serve if not.
Development (SQLite) upgrades on startup so ``voterctl serve --demo`` needs no extra step.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from service.db.engine import Database

SCRIPT_LOCATION = Path(__file__).resolve().parents[1] / "migrations"


class SchemaOutOfDate(RuntimeError):
    pass


def alembic_config(database_url: str, *, app_role: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # ConfigParser interpolation would read a % in a password as a placeholder.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if app_role:
        config.attributes["app_role"] = app_role
    return config


def create_schema(database: Database) -> None:
    """Bring the schema to the newest migration (tests, the demo, `voterctl db upgrade`)."""
    upgrade(database.url)


def upgrade(database_url: str, *, app_role: str | None = None) -> None:
    command.upgrade(alembic_config(database_url, app_role=app_role), "head")


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(database: Database) -> str | None:
    with database.reader.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_current_schema(database: Database) -> None:
    current, head = current_revision(database), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at {current or 'nothing'}, the code needs {head}: "
            "run `voterctl db upgrade` (the migration Job) first"
        )
