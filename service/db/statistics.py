"""Public aggregates (SPEC §17) in the service database: decision counts folded from the
audit log, the fold's position, and counts of the list entries in force.

The counts are a cache of the audit log, never a second source: they are folded in seq
order by one writer at a time (the position row is locked: ``FOR UPDATE`` on PostgreSQL;
SQLite's ``BEGIN IMMEDIATE`` already serialises writers), in the transaction that moves the
position, so a count is never folded twice or skipped.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping

from sqlalchemy import BigInteger, Column, func
from sqlmodel import Field, Session, SQLModel, col, select

from service.audit.tables import SEQ_TYPE
from service.db.repository import as_utc, is_in_force
from service.db.tables import DayRegistrationRow, ListEntryRow
from service.domain.statistics import DecisionKey, EntryKey

# Day registrations keep a record of their own (SPEC §15 way 5); counted as this kind.
DAY_REGISTRATION_KIND = "day_registration"
_POSITION_ID = 1


class DecisionCountRow(SQLModel, table=True):
    __tablename__ = "statistics_decisions"

    election_id: str = Field(primary_key=True, max_length=64)
    precinct_id: str = Field(primary_key=True, max_length=32)
    source: str = Field(primary_key=True, max_length=32)
    outcome: str = Field(primary_key=True, max_length=32)
    basis: str = Field(primary_key=True, max_length=32)
    count: int = Field(sa_column=Column(BigInteger, nullable=False))


class FoldPositionRow(SQLModel, table=True):
    """The one row saying how far the audit log has been folded into the counts."""

    __tablename__ = "statistics_position"

    id: int = Field(primary_key=True)
    folded_seq: int = Field(sa_type=SEQ_TYPE)
    folded_at: dt.datetime | None = None


class SqlStatistics:
    def __init__(self, session: Session) -> None:
        self._session = session

    def lock_position(self) -> int:
        """The seq folded up to, locked until this transaction ends."""
        query = select(FoldPositionRow).where(FoldPositionRow.id == _POSITION_ID)
        if self._session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._session.exec(query).first()
        return row.folded_seq if row is not None else 0

    def position(self) -> tuple[int, dt.datetime | None]:
        row = self._session.get(FoldPositionRow, _POSITION_ID)
        if row is None:
            return 0, None
        return row.folded_seq, as_utc(row.folded_at) if row.folded_at else None

    def add(self, counts: Mapping[DecisionKey, int], *, folded_seq: int, at: dt.datetime) -> None:
        """Add ``counts`` and move the position to ``folded_seq``; only under the lock."""
        for key, count in sorted(counts.items()):
            row = self._session.get(
                DecisionCountRow,
                (key.election_id, key.precinct_id, key.source, key.outcome, key.basis),
            )
            if row is None:
                self._session.add(
                    DecisionCountRow(
                        election_id=key.election_id,
                        precinct_id=key.precinct_id,
                        source=key.source,
                        outcome=key.outcome,
                        basis=key.basis,
                        count=count,
                    )
                )
            else:
                row.count += count
                self._session.add(row)
        position = self._session.get(FoldPositionRow, _POSITION_ID)
        if position is None:
            position = FoldPositionRow(id=_POSITION_ID, folded_seq=folded_seq, folded_at=at)
        else:
            position.folded_seq, position.folded_at = folded_seq, at
        self._session.add(position)
        self._session.flush()

    def decisions(self, election_id: str) -> list[tuple[DecisionKey, int]]:
        rows = self._session.exec(
            select(DecisionCountRow).where(DecisionCountRow.election_id == election_id)
        )
        return [
            (DecisionKey(r.election_id, r.precinct_id, r.source, r.outcome, r.basis), r.count)
            for r in rows
        ]

    def entries_in_force(self, election_id: str, *, now: dt.datetime) -> list[tuple[EntryKey, int]]:
        """Uncancelled list entries by precinct and kind, and the day registrations neither
        cancelled nor lapsed."""
        entries = self._session.exec(
            select(ListEntryRow.precinct_id, ListEntryRow.kind, func.count())
            .where(
                ListEntryRow.election_id == election_id,
                col(ListEntryRow.cancelled_at).is_(None),
            )
            .group_by(ListEntryRow.precinct_id, ListEntryRow.kind)
        )
        days: Counter[str] = Counter(
            precinct
            for precinct, lapses_at in self._session.exec(
                select(DayRegistrationRow.precinct_id, DayRegistrationRow.lapses_at).where(
                    DayRegistrationRow.election_id == election_id,
                    col(DayRegistrationRow.active_key).is_not(None),
                )
            )
            if is_in_force(lapses_at, now=now)
        )
        counted = [(EntryKey(precinct, kind), int(n)) for precinct, kind, n in entries]
        counted += [(EntryKey(p, DAY_REGISTRATION_KIND), n) for p, n in sorted(days.items())]
        return counted
