"""Rows of the audit log. Table classes only: callers get ``ChainEntry`` / ``Checkpoint``.

``seq`` is assigned by the application (head + 1) inside the writer's transaction rather than by
the database, because the entry's hash covers its seq and must be computed before the insert.

The log is append-only. The migrations (service/migrations) add triggers that refuse UPDATE and
DELETE (and TRUNCATE on PostgreSQL, plus privileges). On SQLite that stops accidents and careless
scripts; anyone with the file can drop them, which is what the hash chain is for.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    Text,
)
from sqlmodel import Field, SQLModel

# 64-bit on PostgreSQL (a country's elections add up); SQLite's INTEGER already is.
SEQ_TYPE = BigInteger().with_variant(Integer, "sqlite")


class AuditEntryRow(SQLModel, table=True):
    __tablename__ = "audit_entries"
    __table_args__ = (CheckConstraint("seq >= 1", name="ck_audit_entries_seq_positive"),)

    seq: int = Field(sa_column=Column(SEQ_TYPE, primary_key=True, autoincrement=False))
    prev_hash: str = Field(max_length=64)
    entry_hash: str = Field(max_length=64)
    kind: str = Field(max_length=64, index=True)
    subject: str | None = Field(default=None, max_length=80, index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AuditCheckpointRow(SQLModel, table=True):
    __tablename__ = "audit_checkpoints"

    size: int = Field(sa_column=Column(SEQ_TYPE, primary_key=True, autoincrement=False))
    head_hash: str = Field(max_length=64)
    signed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    key_id: str = Field(max_length=16)
    signature: str = Field(max_length=128)
    # Since migration 0008: the RFC 9162 root at ``size`` (hex) and the C2SP tlog-checkpoint
    # note signed with the same key. NULL on checkpoints signed before the tree existed.
    root_hash: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


# Subtrees of fewer than 2**AUDIT_TREE_LOWEST_LEVEL leaves are not stored: hashed again from
# the entries' bodies when a proof needs them (at most 3 bodies a node). Storing from level 2
# writes half a row per entry instead of two: the append's cost is mostly these INSERTs.
AUDIT_TREE_LOWEST_LEVEL = 2


class AuditTreeRow(SQLModel, table=True):
    """One perfect subtree of the Merkle tree over the entries' bodies (``merkle.py``): the
    ``2**level`` leaves from leaf ``node * 2**level``, for every level from
    ``AUDIT_TREE_LOWEST_LEVEL``. Written with the entries that complete it, never changed:
    about half a row per entry."""

    __tablename__ = "audit_tree"
    __table_args__ = {"sqlite_with_rowid": False}

    level: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    node: int = Field(sa_column=Column(SEQ_TYPE, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class AuditWitnessRow(SQLModel, table=True):
    """An observer's registered key (SPEC §17): its C2SP vkey, who registered it and when."""

    __tablename__ = "audit_witnesses"

    name: str = Field(primary_key=True, max_length=200)
    vkey: str = Field(max_length=400)
    registered_by: str = Field(max_length=200)
    registered_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    audit_seq: int = Field(sa_column=Column(SEQ_TYPE, nullable=False))


class AuditCosignatureRow(SQLModel, table=True):
    """A registered witness's signature line over the checkpoint note of ``size``."""

    __tablename__ = "audit_cosignatures"

    size: int = Field(sa_column=Column(SEQ_TYPE, primary_key=True, autoincrement=False))
    witness: str = Field(primary_key=True, max_length=200)
    line: str = Field(max_length=600)
    cosigned_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
