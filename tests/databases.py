"""Which database the tests run against: SQLite by default, PostgreSQL when asked.

``scripts/test`` runs the suite twice; the second time VOTER_TEST_POSTGRES_URL names the
admin URL of the throwaway cluster from ``scripts/postgres`` and every test that touches the
service database gets a fresh PostgreSQL database of its own.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get("VOTER_TEST_POSTGRES_URL")


def on_postgres() -> bool:
    return POSTGRES_ADMIN_URL is not None


def create_database() -> str:
    """A new, empty PostgreSQL database; returns its URL."""
    assert POSTGRES_ADMIN_URL is not None
    name = f"voter_test_{uuid.uuid4().hex[:16]}"
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    assert POSTGRES_ADMIN_URL is not None
    name = make_url(url).database
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def new_database_url(directory: Path) -> str:
    return create_database() if on_postgres() else f"sqlite:///{directory / 'voter.db'}"
