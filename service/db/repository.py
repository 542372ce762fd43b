"""Every query of the service database (the audit log's own queries live in service.audit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    bindparam,
    delete,
    exists,
    func,
    null,
    or_,
    union_all,
)
from sqlmodel import Session, col, select

from service.datafiles import ElectionRecord, PrecinctRecord
from service.db.engine import driver_value, insert_rows
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
from service.domain.model import ActiveDayRegistration, Election, Precinct

_DECISIONS = DecisionRow.metadata.tables["decisions"]
_DECISION_COLUMNS = (
    "decision_id",
    "kind",
    "election_id",
    "subject",
    "outcome",
    "audit_seq",
    "body",
    "decided_at",
)
# Conservative: an active_key may be one that has lapsed, a guard one whose override expired.
_ANYONE_HAS_STANDING = select(
    or_(
        exists().where(col(DayRegistrationRow.active_key).is_not(None)),
        exists().select_from(ActiveOverrideRow),
    )
)
# Day registrations (id set) and active-override guards (id NULL) of some voters, in one query.
_STANDING: CompoundSelect[Any] = union_all(
    select(
        DayRegistrationRow.subject,
        DayRegistrationRow.id,
        DayRegistrationRow.precinct_id,
        DayRegistrationRow.lapses_at,
    ).where(col(DayRegistrationRow.active_key).in_(bindparam("keys", expanding=True))),
    select(ActiveOverrideRow.subject, null(), null(), null()).where(
        ActiveOverrideRow.election_id == bindparam("election_id"),
        col(ActiveOverrideRow.subject).in_(bindparam("subjects", expanding=True)),
    ),
)


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


@dataclass(frozen=True, slots=True)
class NewDecision:
    decision_id: str
    kind: str
    election_id: str
    subject: str
    outcome: str
    audit_seq: int
    body: str


def add_decisions(
    connection: Connection, decisions: Sequence[NewDecision], *, decided_at: dt.datetime
) -> None:
    """Insert a batch of decisions taken at one instant with one driver-level executemany."""
    stored_at = driver_value(connection, _DECISIONS.c.decided_at, decided_at)
    insert_rows(
        connection,
        _DECISIONS,
        _DECISION_COLUMNS,
        [
            (
                d.decision_id,
                d.kind,
                d.election_id,
                d.subject,
                d.outcome,
                d.audit_seq,
                d.body,
                stored_at,
            )
            for d in decisions
        ],
    )


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


def anyone_has_standing(connection: Connection) -> bool:
    """Whether any voter in any election may have a day registration or an override.

    Each probe stops at its first row, so this costs a fraction of ``standing_of``, which a
    batch can skip while no one has either (every day before voting day, typically).
    """
    return bool(connection.execute(_ANYONE_HAS_STANDING).scalar())


def standing_of(
    connection: Connection, *, election_id: str, subjects: Collection[str], now: dt.datetime
) -> tuple[dict[str, ActiveDayRegistration], set[str]]:
    """In one query: the active day registration (``active_day_registration``'s rule) of each
    of ``subjects`` that has one, and which of them have an active-override guard row."""
    if not subjects:
        return {}, set()
    rows = connection.execute(
        _STANDING,
        {
            "keys": [active_key(election_id, subject) for subject in subjects],
            "election_id": election_id,
            "subjects": list(subjects),
        },
    )
    days: dict[str, ActiveDayRegistration] = {}
    guarded: set[str] = set()
    for subject, registration_id, precinct_id, lapses_at in rows:
        if registration_id is None:
            guarded.add(subject)
        elif as_utc(lapses_at) > now:
            days[subject] = ActiveDayRegistration(registration_id, precinct_id)
    return days, guarded


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
