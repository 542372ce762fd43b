"""Table models of the service database. The API never returns these classes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel


class PrecinctRow(SQLModel, table=True):
    __tablename__ = "precincts"

    id: str = Field(primary_key=True, max_length=32)
    number: int
    kato: str = Field(index=True, max_length=9)
    kind: str = Field(max_length=16)
    country: str = Field(index=True, max_length=3)
    day_registration: bool = Field(index=True)
    # The full SPEC §10 record, as imported, so the directory round-trips exactly.
    body: str = Field(sa_column=Column(Text, nullable=False))


class ElectionRow(SQLModel, table=True):
    __tablename__ = "elections"

    id: str = Field(primary_key=True, max_length=64)
    voting_day: dt.date
    body: str = Field(sa_column=Column(Text, nullable=False))


class ReferenceImportRow(SQLModel, table=True):
    """One row per accepted import; its id tells running replicas to reload their cache."""

    __tablename__ = "reference_imports"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    records: int
    imported_at: dt.datetime
    audit_seq: int


class DecisionRow(SQLModel, table=True):
    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_subject_election", "subject", "election_id"),)

    decision_id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=32)
    election_id: str = Field(max_length=64)
    subject: str = Field(max_length=80)
    outcome: str = Field(max_length=16)
    decided_at: dt.datetime
    audit_seq: int = Field(unique=True)
    # The decision as answered (without personal data), for operators and reconciliation.
    body: str = Field(sa_column=Column(Text, nullable=False))
