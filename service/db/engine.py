"""Engines for the service database.

SQLite is the embedded default. It runs in WAL mode with ``synchronous=FULL`` so that an
acknowledged decision survives power loss, and writers take the database lock at BEGIN
(``BEGIN IMMEDIATE``) so that two writers never both read the same audit-chain head.
Readers use a separate engine with ordinary deferred transactions so they never wait for
writers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

# Long enough for other workers' commits (milliseconds each), short enough that a held lock
# turns into a quick 503 rather than a client waiting half a minute.
SQLITE_BUSY_TIMEOUT_MS = 5_000


@dataclass(frozen=True)
class Database:
    url: str
    reader: Engine
    writer: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.reader.dispose()
        self.writer.dispose()


def _configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False})
    _configure_sqlite(engine, immediate=immediate)
    return engine


def open_database(url: str) -> Database:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return Database(
            url=url,
            reader=_sqlite_engine(url, immediate=False),
            writer=_sqlite_engine(url, immediate=True),
        )
    engine = create_engine(url, pool_pre_ping=True)
    return Database(url=url, reader=engine, writer=engine)


def create_schema(database: Database) -> None:
    """Bring the schema to the newest migration (tests, the demo, `voterctl db upgrade`)."""
    from service.db.migrations import upgrade

    upgrade(database.url)


@contextmanager
def write_session(database: Database) -> Iterator[Session]:
    """A session whose transaction holds the write lock; commits on success."""
    with Session(database.writer) as session, session.begin():
        yield session


@contextmanager
def read_session(database: Database) -> Iterator[Session]:
    with Session(database.reader) as session:
        yield session
