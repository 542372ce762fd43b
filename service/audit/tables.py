"""Rows of the audit log. Table classes only: callers get ``ChainEntry`` / ``Checkpoint``.

``seq`` is assigned by the application (head + 1) inside the writer's transaction rather than by
the database, because the entry's hash covers its seq and must be computed before the insert.

The log is append-only. On SQLite triggers refuse UPDATE and DELETE, which stops accidents and
careless scripts; anyone with the file can drop them, which is what the hash chain is for.
PostgreSQL gets a trigger plus privileges from its migrations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, Connection, DateTime, Integer, Table, Text, event
from sqlmodel import Field, SQLModel


class AuditEntryRow(SQLModel, table=True):
    __tablename__ = "audit_entries"
    __table_args__ = (CheckConstraint("seq >= 1", name="ck_audit_entries_seq_positive"),)

    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    prev_hash: str = Field(max_length=64)
    entry_hash: str = Field(max_length=64)
    kind: str = Field(max_length=64, index=True)
    subject: str | None = Field(default=None, max_length=80, index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AuditCheckpointRow(SQLModel, table=True):
    __tablename__ = "audit_checkpoints"

    size: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    head_hash: str = Field(max_length=64)
    signed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    key_id: str = Field(max_length=16)
    signature: str = Field(max_length=128)


def _add_append_only_triggers(target: Table, connection: Connection, **_: Any) -> None:
    if connection.dialect.name != "sqlite":
        return
    for verb in ("UPDATE", "DELETE"):
        connection.exec_driver_sql(
            f"CREATE TRIGGER IF NOT EXISTS {target.name}_no_{verb.lower()} "
            f"BEFORE {verb} ON {target.name} "
            f"BEGIN SELECT RAISE(ABORT, '{target.name} is append-only'); END"
        )


for _table_name in (AuditEntryRow.__tablename__, AuditCheckpointRow.__tablename__):
    event.listen(SQLModel.metadata.tables[_table_name], "after_create", _add_append_only_triggers)
