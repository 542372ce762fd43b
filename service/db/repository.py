"""Every query of the service database (the audit log's own queries live in service.audit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from service.datafiles import ElectionRecord, PrecinctRecord
from service.db.tables import (
    ActiveOverrideRow,
    DayRegistrationRow,
    DecisionRow,
    ElectionRow,
    IdempotencyRow,
    OverrideActionRow,
    OverrideRow,
    PrecinctRow,
    ReferenceImportRow,
)
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


# --- day registrations and idempotency ---------------------------------------------------


def active_key(election_id: str, subject: str) -> str:
    return f"{election_id}|{subject}"


def active_day_registration(
    session: Session, *, election_id: str, subject: str, now: dt.datetime
) -> DayRegistrationRow | None:
    row = session.exec(
        select(DayRegistrationRow).where(
            DayRegistrationRow.active_key == active_key(election_id, subject)
        )
    ).first()
    if row is None or as_utc(row.lapses_at) <= now:
        return None
    return row


def active_day_registrations(
    session: Session, *, election_id: str, subjects: Collection[str], now: dt.datetime
) -> dict[str, DayRegistrationRow]:
    """``active_day_registration`` for many voters at once, by subject."""
    if not subjects:
        return {}
    keys = [active_key(election_id, subject) for subject in subjects]
    rows = session.exec(
        select(DayRegistrationRow).where(col(DayRegistrationRow.active_key).in_(keys))
    ).all()
    return {row.subject: row for row in rows if as_utc(row.lapses_at) > now}


def add_day_registration(session: Session, row: DayRegistrationRow) -> None:
    session.add(row)
    session.flush()  # the UNIQUE active_key is checked here, inside the transaction


def get_day_registration(session: Session, registration_id: str) -> DayRegistrationRow | None:
    return session.get(DayRegistrationRow, registration_id)


def cancel_day_registration(
    session: Session, row: DayRegistrationRow, *, by: str, at: dt.datetime, reason: str
) -> None:
    row.active_key = None
    row.cancelled_at = at
    row.cancelled_by = by
    row.cancel_reason = reason
    session.add(row)
    session.flush()


def find_idempotent(
    session: Session, *, caller: str, operation: str, key: str
) -> IdempotencyRow | None:
    return session.get(IdempotencyRow, (caller, operation, key))


def remember_idempotent(session: Session, row: IdempotencyRow) -> None:
    session.add(row)
    session.flush()


# --- overrides ---------------------------------------------------------------------------


def add_override(session: Session, row: OverrideRow) -> None:
    session.add(row)
    session.flush()


def get_override(session: Session, override_id: str) -> OverrideRow | None:
    return session.get(OverrideRow, override_id)


def override_actions(session: Session, override_id: str) -> list[OverrideActionRow]:
    return list(
        session.exec(
            select(OverrideActionRow)
            .where(OverrideActionRow.override_id == override_id)
            .order_by(col(OverrideActionRow.id))
        ).all()
    )


def add_override_action(session: Session, row: OverrideActionRow) -> None:
    session.add(row)
    session.flush()


def list_overrides(session: Session, *, election_id: str | None) -> list[OverrideRow]:
    statement = select(OverrideRow).order_by(col(OverrideRow.created_at), col(OverrideRow.id))
    if election_id is not None:
        statement = statement.where(OverrideRow.election_id == election_id)
    return list(session.exec(statement).all())


def active_override_guard(
    session: Session, *, election_id: str, subject: str
) -> ActiveOverrideRow | None:
    return session.get(ActiveOverrideRow, (election_id, subject))


def subjects_with_active_override(
    session: Session, *, election_id: str, subjects: Collection[str]
) -> set[str]:
    """Which of ``subjects`` have an active-override guard row for the election."""
    if not subjects:
        return set()
    statement = select(ActiveOverrideRow.subject).where(
        ActiveOverrideRow.election_id == election_id,
        col(ActiveOverrideRow.subject).in_(list(subjects)),
    )
    return set(session.exec(statement).all())


def set_active_override(
    session: Session, *, election_id: str, subject: str, override_id: str
) -> None:
    session.merge(
        ActiveOverrideRow(election_id=election_id, subject=subject, override_id=override_id)
    )
    session.flush()


def clear_active_override(session: Session, *, election_id: str, subject: str) -> None:
    guard = session.get(ActiveOverrideRow, (election_id, subject))
    if guard is not None:
        session.delete(guard)
        session.flush()


def as_utc(instant: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; every instant this service stores is UTC.
    return instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)
