"""Every query of the service database (the audit log's own queries live in service.audit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from service.datafiles import ElectionRecord, PrecinctRecord
from service.db.tables import DecisionRow, ElectionRow, PrecinctRow, ReferenceImportRow
from service.domain.model import Election, Precinct


def replace_precincts(session: Session, records: Sequence[PrecinctRecord]) -> None:
    """Swap the whole boundary set: akim decisions publish complete sets, not diffs."""
    session.exec(delete(PrecinctRow))
    session.add_all(
        PrecinctRow(
            id=r.id,
            number=r.number,
            kato=r.kato,
            kind=r.kind.value,
            country=r.country,
            day_registration=r.day_registration,
            body=r.model_dump_json(by_alias=True),
        )
        for r in records
    )


def upsert_elections(session: Session, records: Sequence[ElectionRecord]) -> None:
    for record in records:
        session.merge(
            ElectionRow(id=record.id, voting_day=record.voting_day, body=record.model_dump_json())
        )


def record_import(
    session: Session, *, kind: str, records: int, imported_at: dt.datetime, audit_seq: int
) -> None:
    session.add(
        ReferenceImportRow(kind=kind, records=records, imported_at=imported_at, audit_seq=audit_seq)
    )


def latest_import_id(session: Session) -> int:
    value = session.exec(select(func.max(ReferenceImportRow.id))).one()
    return int(value or 0)


def load_precincts(session: Session) -> list[Precinct]:
    rows = session.exec(select(PrecinctRow.body).order_by(PrecinctRow.id)).all()
    return [PrecinctRecord.model_validate_json(body).to_domain() for body in rows]


def load_elections(session: Session) -> list[Election]:
    rows = session.exec(select(ElectionRow.body).order_by(col(ElectionRow.voting_day))).all()
    return [ElectionRecord.model_validate_json(body).to_domain() for body in rows]


def add_decision(session: Session, row: DecisionRow) -> None:
    session.add(row)


def count_decisions(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(DecisionRow)).one())
