"""Engines for the service database.

SQLite is the embedded default. It runs in WAL mode with ``synchronous=FULL`` so that an
acknowledged decision survives power loss, and writers take the database lock at BEGIN
(``BEGIN IMMEDIATE``) so that two writers never both read the same audit-chain head.
Readers use a separate engine with ordinary deferred transactions so they never wait for
writers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

# The placeholder of each DB-API paramstyle the service's drivers use (sqlite3, psycopg).
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
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


@contextmanager
def write_session(database: Database) -> Iterator[Session]:
    """A session whose transaction holds the write lock; commits on success."""
    with Session(database.writer) as session, session.begin():
        yield session


@contextmanager
def read_session(database: Database) -> Iterator[Session]:
    with Session(database.reader) as session:
        yield session


def insert_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """INSERT ``rows`` (values in ``columns`` order) with the driver's own executemany.

    A Core executemany runs every value of every row through SQLAlchemy's bind processing,
    which was most of the group commit's per-row CPU. Here values go to the driver as given,
    so a value whose column type converts it (a datetime on SQLite) must come through
    ``driver_value`` first; errors still arrive as SQLAlchemy's exceptions.
    """
    if rows:
        statement = _insert_statement(connection.dialect.paramstyle, table, tuple(columns))
        connection.exec_driver_sql(statement, list(rows))


def driver_value(connection: Connection, column: Column[Any], value: Any) -> Any:
    """``value`` as SQLAlchemy would hand it to the driver for ``column``."""
    dialect = connection.dialect
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return processor(value) if processor is not None else value


def placeholder(paramstyle: str) -> str:
    """The placeholder of a bound value in driver-level SQL (``exec_driver_sql``)."""
    if paramstyle not in _PLACEHOLDERS:
        raise NotImplementedError(f"no driver-level SQL for the {paramstyle} paramstyle")
    return _PLACEHOLDERS[paramstyle]


@cache
def _insert_statement(paramstyle: str, table: Table, columns: tuple[str, ...]) -> str:
    mark = placeholder(paramstyle)
    unknown = set(columns) - set(table.columns.keys())
    if unknown:
        raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
    marks = ", ".join([mark] * len(columns))
    # Names from the Table itself (checked above), every value bound: nothing to inject.
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
