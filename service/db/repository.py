"""Every query of the service database (the audit log's own queries live in service.audit).

The classes take the unit of work's session and hand back the plain records of
``service.usecases.ports``, never table rows; the module functions serve the group commit
and the voter-list compiler, which work on a connection or a run of their own.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    null,
    or_,
    outerjoin,
    union_all,
    update,
)
from sqlalchemy import (
    select as core_select,  # sqlmodel's select types at most four columns
)
from sqlalchemy import text as sa_text
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from service.datafiles import PrecinctRecord, published_election
from service.db.engine import driver_value, insert_rows
from service.db.tables import (
    AbsenteeCertificateRow,
    AbsenteeCertificateUseRow,
    AccountHoldRow,
    DayRegistrationRow,
    DecisionRow,
    ElectionRow,
    IdempotencyRow,
    ListEntryRow,
    ListPlaceRow,
    OverrideActionRow,
    OverrideRow,
    PrecinctRow,
    ReferenceImportRow,
    RollChunkRow,
    RollRunRow,
    UndoRequestRow,
)
from service.domain.model import (
    ActiveDayRegistration,
    ActiveListEntry,
    ActiveOverride,
    Election,
    HolderKind,
    ListEntryKind,
    ListPlace,
    OverrideKind,
    Precinct,
)
from service.domain.overrides import (
    OverrideAction,
    OverrideStatus,
    kazakhstan_date,
    override_status,
)
from service.domain.reference_versions import LiveRecord, LiveRecordKind
from service.domain.undo import UndoStatus
from service.usecases.ports import (
    NO_STANDING,
    AbsenteeCertificateRecord,
    AccountHoldRecord,
    Answer,
    DayRegistrationQuery,
    DayRegistrationRecord,
    DuplicateRecord,
    IdempotencyRecord,
    ListEntryQuery,
    ListEntryRecord,
    OverrideActionRecord,
    OverrideQuery,
    OverrideRecord,
    PageKey,
    Published,
    ReferenceVersions,
    Standing,
    UndoRequestRecord,
)

Row = TypeVar("Row", OverrideRow, DayRegistrationRow, ListEntryRow)

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
# Every record that gives a voter standing holds their place on a list. Conservative: a place
# may be held by a day registration that has lapsed or an override that has expired.
_ANYONE_HAS_STANDING = select(exists().select_from(ListPlaceRow))
# Which of the three a row of a standing query is.
_DAY, _GUARD, _ENTRY = "day", "guard", "entry"
# The places active overrides hold (some of them may have expired since).
_OVERRIDE_PLACE = col(ListPlaceRow.holder_kind) == HolderKind.OVERRIDE.value


def _source(name: str) -> ColumnElement[str]:
    return literal_column(f"'{name}'", type_=String())


# A list entry with the use of its absentee certificate, if it is one and was used.
_ENTRIES_AND_USES = outerjoin(
    ListEntryRow,
    AbsenteeCertificateUseRow,
    col(AbsenteeCertificateUseRow.entry_id) == col(ListEntryRow.id),
)
# Day registrations, the places of active overrides and active list entries of some voters, in one
# query: (source, subject, record id, precinct id, lapses_at, list entry kind, precinct
# where an absentee certificate was used).
_STANDING: CompoundSelect[Any] = union_all(
    core_select(
        _source(_DAY),
        col(DayRegistrationRow.subject),
        col(DayRegistrationRow.id),
        col(DayRegistrationRow.precinct_id),
        col(DayRegistrationRow.lapses_at),
        null(),
        null(),
    ).where(col(DayRegistrationRow.active_key).in_(bindparam("keys", expanding=True))),
    core_select(
        _source(_GUARD),
        col(ListPlaceRow.voter_subject),
        col(ListPlaceRow.holder_id),
        null(),
        null(),
        null(),
        null(),
    ).where(
        col(ListPlaceRow.election_id) == bindparam("election_id"),
        col(ListPlaceRow.voter_subject).in_(bindparam("subjects", expanding=True)),
        _OVERRIDE_PLACE,
    ),
    core_select(
        _source(_ENTRY),
        col(ListEntryRow.voter_subject),
        col(ListEntryRow.id),
        col(ListEntryRow.precinct_id),
        null(),
        col(ListEntryRow.kind),
        col(AbsenteeCertificateUseRow.precinct_id),
    )
    .select_from(_ENTRIES_AND_USES)
    .where(
        col(ListEntryRow.election_id) == bindparam("election_id"),
        col(ListEntryRow.voter_subject).in_(bindparam("subjects", expanding=True)),
        col(ListEntryRow.cancelled_at).is_(None),
    ),
)
_OVERRIDES_BY_ID = select(
    col(OverrideRow.id),
    col(OverrideRow.kind),
    col(OverrideRow.precinct_id),
    col(OverrideRow.expires_on),
).where(col(OverrideRow.id).in_(bindparam("ids", expanding=True)))
_ACTIONS_BY_OVERRIDE = select(OverrideActionRow.override_id, OverrideActionRow.action).where(
    col(OverrideActionRow.override_id).in_(bindparam("ids", expanding=True))
)


def as_utc(instant: dt.datetime) -> dt.datetime:
    """An instant read back from the database, in UTC: SQLite hands back naive datetimes, and
    every instant this service stores is UTC."""
    return instant.replace(tzinfo=dt.UTC) if instant.tzinfo is None else instant.astimezone(dt.UTC)


# --- reference data ----------------------------------------------------------------------


def latest_import_id(session: Session) -> int:
    value = session.exec(select(func.max(ReferenceImportRow.id))).one()
    return int(value or 0)


def current_versions(session: Session) -> ReferenceVersions:
    rows = session.exec(
        select(ReferenceImportRow.kind, func.max(ReferenceImportRow.version)).group_by(
            ReferenceImportRow.kind
        )
    ).all()
    newest = {kind: int(version) for kind, version in rows}
    return ReferenceVersions(
        precincts=newest.get("precincts", 0), elections=newest.get("elections", 0)
    )


def load_precincts(session: Session, version: int) -> list[Precinct]:
    rows = session.exec(
        select(PrecinctRow.body).where(PrecinctRow.set_version == version).order_by(PrecinctRow.id)
    ).all()
    return [PrecinctRecord.model_validate_json(body).to_domain() for body in rows]


def load_elections(session: Session, version: int) -> list[Election]:
    rows = session.exec(
        select(ElectionRow.body)
        .where(ElectionRow.set_version == version)
        .order_by(col(ElectionRow.voting_day), col(ElectionRow.id))
    ).all()
    return [published_election(body) for body in rows]


_LIVE_ENTRY_KINDS = {
    ListEntryKind.SPECIAL_PRESENCE.value: LiveRecordKind.PRESENCE_ENTRY,
    ListEntryKind.ABSENTEE_CERTIFICATE.value: LiveRecordKind.ABSENTEE_CERTIFICATE,
    ListEntryKind.PLACE_OF_STAY_APPLICATION.value: LiveRecordKind.PLACE_OF_STAY_APPLICATION,
    ListEntryKind.MISSION_APPLICATION.value: LiveRecordKind.MISSION_APPLICATION,
}


def live_records(session: Session, *, now: dt.datetime) -> list[LiveRecord]:
    """Day registrations in force, overrides pending or active and presence entries not
    cancelled for an election still to come: what a reference version may not take away.
    An active override holds the voter's place on a list; a pending one has no step."""
    records = [
        LiveRecord(LiveRecordKind.DAY_REGISTRATION, record_id, election_id, precinct_id)
        for record_id, election_id, precinct_id, lapses_at in session.exec(
            select(
                DayRegistrationRow.id,
                DayRegistrationRow.election_id,
                DayRegistrationRow.precinct_id,
                DayRegistrationRow.lapses_at,
            ).where(col(DayRegistrationRow.active_key).is_not(None))
        )
        if is_in_force(lapses_at, now=now)
    ]
    today = kazakhstan_date(now)
    records += [
        LiveRecord(_LIVE_ENTRY_KINDS[kind], record_id, election_id, used_at or precinct_id)
        for record_id, election_id, precinct_id, kind, used_at in session.connection().execute(
            core_select(
                col(ListEntryRow.id),
                col(ListEntryRow.election_id),
                col(ListEntryRow.precinct_id),
                col(ListEntryRow.kind),
                col(AbsenteeCertificateUseRow.precinct_id),
            )
            .select_from(_ENTRIES_AND_USES)
            .where(
                col(ListEntryRow.cancelled_at).is_(None),
                # Any version of the election whose voting day has not passed yet.
                exists().where(
                    col(ElectionRow.id) == col(ListEntryRow.election_id),
                    col(ElectionRow.voting_day) >= today,
                ),
            )
        )
    ]
    candidates = (
        session.connection()
        .execute(
            select(
                col(OverrideRow.id),
                col(OverrideRow.election_id),
                col(OverrideRow.precinct_id),
                col(OverrideRow.expires_on),
            ).where(
                col(OverrideRow.expires_on) >= today,
                or_(
                    col(OverrideRow.id).in_(select(ListPlaceRow.holder_id).where(_OVERRIDE_PLACE)),
                    ~exists().where(col(OverrideActionRow.override_id) == col(OverrideRow.id)),
                ),
            )
        )
        .all()
    )
    steps: defaultdict[str, set[OverrideAction]] = defaultdict(set)
    if candidates:
        ids = [row[0] for row in candidates]
        for override_id, action in session.connection().execute(_ACTIONS_BY_OVERRIDE, {"ids": ids}):
            steps[override_id].add(OverrideAction(action))
    for override_id, election_id, precinct_id, expires_on in candidates:
        status = override_status(steps[override_id], expires_on=expires_on, today=today)
        if status in (OverrideStatus.PENDING, OverrideStatus.ACTIVE):
            records.append(
                LiveRecord(LiveRecordKind.OVERRIDE, override_id, election_id, precinct_id)
            )
    return records


class ReferenceTables:
    def __init__(self, session: Session) -> None:
        self._session = session

    def versions(self) -> ReferenceVersions:
        return current_versions(self._session)

    def precincts(self, version: int) -> list[Precinct]:
        return load_precincts(self._session, version)

    def precinct(self, precinct_id: str, *, version: int | None = None) -> Precinct | None:
        query = select(PrecinctRow.body).where(PrecinctRow.id == precinct_id)
        if version is not None:
            query = query.where(PrecinctRow.set_version == version)
        body = self._session.exec(query.order_by(col(PrecinctRow.set_version).desc())).first()
        return None if body is None else PrecinctRecord.model_validate_json(body).to_domain()

    def elections(self, version: int) -> list[Election]:
        return load_elections(self._session, version)

    def live_records(self, *, now: dt.datetime) -> list[LiveRecord]:
        return live_records(self._session, now=now)

    def add_precincts(self, version: int, precincts: Sequence[Published[Precinct]]) -> None:
        self._session.add_all(
            PrecinctRow(
                set_version=version,
                id=p.value.id,
                number=p.value.number,
                kato=p.value.kato,
                kind=p.value.kind.value,
                country=p.value.country,
                day_registration=p.value.day_registration,
                body=p.source,
            )
            for p in precincts
        )

    def add_elections(self, version: int, elections: Sequence[Published[Election]]) -> None:
        self._session.add_all(
            ElectionRow(
                set_version=version, id=e.value.id, voting_day=e.value.voting_day, body=e.source
            )
            for e in elections
        )

    def record_import(
        self,
        *,
        kind: str,
        version: int,
        records: int,
        sha256: str,
        actor: str,
        imported_at: dt.datetime,
        audit_seq: int,
    ) -> None:
        self._session.add(
            ReferenceImportRow(
                kind=kind,
                version=version,
                records=records,
                sha256=sha256,
                actor=actor,
                imported_at=imported_at,
                audit_seq=audit_seq,
            )
        )
        # The unique (kind, version) collides here, inside the unit of work, if a racing
        # import took this version first.
        self._session.flush()


# --- decisions ---------------------------------------------------------------------------


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


# --- standing: active overrides and day registrations --------------------------------------


def active_key(election_id: str, subject: str) -> str:
    return f"{election_id}|{subject}"


def anyone_has_standing(connection: Connection) -> bool:
    """Whether any voter in any election may have a day registration or an override.

    Each probe stops at its first row, so this costs a fraction of ``standings``, which a
    batch can skip while no one has either (every day before voting day, typically).
    """
    return bool(connection.execute(_ANYONE_HAS_STANDING).scalar())


def standings(
    connection: Connection, *, election_id: str, subjects: Collection[str], now: dt.datetime
) -> dict[str, Standing]:
    """The standing of those of ``subjects`` that have any: one query, and one more for the
    overrides only if some of them hold one."""
    if not subjects:
        return {}
    rows = connection.execute(
        _STANDING,
        {
            "keys": [active_key(election_id, subject) for subject in subjects],
            "election_id": election_id,
            "subjects": list(subjects),
        },
    )
    days: dict[str, ActiveDayRegistration] = {}
    guards: dict[str, str] = {}
    entries: dict[str, ActiveListEntry] = {}
    for source, subject, record_id, precinct_id, lapses_at, kind, used_at in rows:
        if source == _GUARD:
            guards[record_id] = subject
        elif source == _ENTRY:
            entries[subject] = ActiveListEntry(record_id, ListEntryKind(kind), precinct_id, used_at)
        elif is_in_force(lapses_at, now=now):
            days[subject] = ActiveDayRegistration(record_id, precinct_id)
    return _combined(days, _active_overrides(connection, guards, now=now), entries)


def election_standings(
    connection: Connection, *, election_id: str, now: dt.datetime
) -> dict[str, Standing]:
    """The standing of every voter of one election who has any (the voter-list compiler)."""
    guards = {
        override_id: subject
        for subject, override_id in connection.execute(
            select(ListPlaceRow.voter_subject, ListPlaceRow.holder_id).where(
                ListPlaceRow.election_id == election_id, _OVERRIDE_PLACE
            )
        )
    }
    days = {
        subject: ActiveDayRegistration(registration_id, precinct_id)
        for subject, registration_id, precinct_id, lapses_at in connection.execute(
            select(
                DayRegistrationRow.subject,
                DayRegistrationRow.id,
                DayRegistrationRow.precinct_id,
                DayRegistrationRow.lapses_at,
            ).where(
                DayRegistrationRow.election_id == election_id,
                col(DayRegistrationRow.active_key).is_not(None),
            )
        )
        if is_in_force(lapses_at, now=now)
    }
    entries = {
        subject: ActiveListEntry(entry_id, ListEntryKind(kind), precinct_id, used_at)
        for subject, entry_id, kind, precinct_id, used_at in connection.execute(
            core_select(
                col(ListEntryRow.voter_subject),
                col(ListEntryRow.id),
                col(ListEntryRow.kind),
                col(ListEntryRow.precinct_id),
                col(AbsenteeCertificateUseRow.precinct_id),
            )
            .select_from(_ENTRIES_AND_USES)
            .where(
                col(ListEntryRow.election_id) == election_id,
                col(ListEntryRow.cancelled_at).is_(None),
            )
        )
    }
    return _combined(days, _active_overrides(connection, guards, now=now), entries)


def is_in_force(lapses_at: dt.datetime, *, now: dt.datetime) -> bool:
    # A cancelled registration has lost its active_key already; a lapsed one keeps it.
    return as_utc(lapses_at) > now


def _active_overrides(
    connection: Connection, guards: Mapping[str, str], *, now: dt.datetime
) -> dict[str, ActiveOverride]:
    """Of the overrides holding places (id -> subject), those in force now, by subject.

    A place stays held by an override that has since expired until another record needs it
    (``ListPlaces.holders``), so the status is judged here, from its steps, by the one rule
    of ``override_status``.
    """
    if not guards:
        return {}
    ids = list(guards)
    steps: defaultdict[str, set[OverrideAction]] = defaultdict(set)
    for override_id, action in connection.execute(_ACTIONS_BY_OVERRIDE, {"ids": ids}):
        steps[override_id].add(OverrideAction(action))
    today = kazakhstan_date(now)
    active: dict[str, ActiveOverride] = {}
    for override_id, kind, precinct_id, expires_on in connection.execute(
        _OVERRIDES_BY_ID, {"ids": ids}
    ):
        status = override_status(steps[override_id], expires_on=expires_on, today=today)
        if status is OverrideStatus.ACTIVE:
            active[guards[override_id]] = ActiveOverride(
                override_id, OverrideKind(kind), precinct_id
            )
    return active


def _combined(
    days: Mapping[str, ActiveDayRegistration],
    overrides: Mapping[str, ActiveOverride],
    entries: Mapping[str, ActiveListEntry],
) -> dict[str, Standing]:
    return {
        subject: Standing(
            override=overrides.get(subject),
            day_registration=days.get(subject),
            list_entry=entries.get(subject),
        )
        for subject in days.keys() | overrides.keys() | entries.keys()
    }


class Standings:
    def __init__(self, session: Session) -> None:
        self._session = session

    def of(self, *, election_id: str, subject: str, now: dt.datetime) -> Standing:
        self._session.flush()  # this transaction's own writes first
        found = standings(
            self._session.connection(), election_id=election_id, subjects=[subject], now=now
        )
        return found.get(subject, NO_STANDING)


# --- listings: keyset pages -----------------------------------------------------------------


def _keyset(
    statement: SelectOfScalar[Row],
    *,
    instant: Mapped[dt.datetime],
    record_id: Mapped[str],
    after: PageKey | None,
    limit: int,
) -> SelectOfScalar[Row]:
    """``statement`` ordered by (instant, id), from just after ``after``, at most ``limit``.

    Spelled out rather than as a row-value comparison, which not every SQLite has.
    """
    if after is not None:
        statement = statement.where(
            or_(instant > after.at, and_(instant == after.at, record_id > after.id))
        )
    return statement.order_by(instant, record_id).limit(limit)


def _equal(column: Mapped[Any], value: object | None) -> list[ColumnElement[bool]]:
    return [] if value is None else [column == value]


def _between(
    column: Mapped[dt.datetime], after: dt.datetime | None, before: dt.datetime | None
) -> list[ColumnElement[bool]]:
    """Strictly after ``after`` and strictly before ``before``, each when given."""
    bounds = [] if after is None else [column > after]
    return bounds if before is None else [*bounds, column < before]


# --- day registrations and idempotency ---------------------------------------------------


def _day_registration(row: DayRegistrationRow) -> DayRegistrationRecord:
    return DayRegistrationRecord(
        id=row.id,
        election_id=row.election_id,
        subject=row.subject,
        precinct_id=row.precinct_id,
        registered_by=row.registered_by,
        registered_at=as_utc(row.registered_at),
        lapses_at=as_utc(row.lapses_at),
        audit_seq=row.audit_seq,
        cancelled_at=as_utc(row.cancelled_at) if row.cancelled_at else None,
        cancelled_by=row.cancelled_by,
        cancel_reason=row.cancel_reason,
    )


class DayRegistrations:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, registration: DayRegistrationRecord) -> None:
        r = registration
        self._session.add(
            DayRegistrationRow(
                id=r.id,
                election_id=r.election_id,
                subject=r.subject,
                precinct_id=r.precinct_id,
                registered_by=r.registered_by,
                registered_at=r.registered_at,
                lapses_at=r.lapses_at,
                active_key=active_key(r.election_id, r.subject) if r.cancelled_at is None else None,
                audit_seq=r.audit_seq,
                cancelled_at=r.cancelled_at,
                cancelled_by=r.cancelled_by,
                cancel_reason=r.cancel_reason,
            )
        )
        if r.cancelled_at is None:
            _take_place(self._session, r.election_id, r.subject, HolderKind.DAY_REGISTRATION, r.id)
        # The UNIQUE active_key and the place are checked here, inside the transaction.
        self._session.flush()

    def get(self, registration_id: str) -> DayRegistrationRecord | None:
        row = self._session.get(DayRegistrationRow, registration_id)
        return _day_registration(row) if row is not None else None

    def page(
        self, query: DayRegistrationQuery, *, after: PageKey | None, limit: int
    ) -> list[DayRegistrationRecord]:
        q = query
        statement = _keyset(
            select(DayRegistrationRow),
            instant=col(DayRegistrationRow.registered_at),
            record_id=col(DayRegistrationRow.id),
            after=after,
            limit=limit,
        ).where(
            *_equal(col(DayRegistrationRow.subject), q.subject),
            *_equal(col(DayRegistrationRow.election_id), q.election_id),
            *_equal(col(DayRegistrationRow.precinct_id), q.precinct_id),
            *_between(
                col(DayRegistrationRow.registered_at), q.registered_after, q.registered_before
            ),
        )
        return [_day_registration(row) for row in self._session.exec(statement).all()]

    def cancel(
        self, registration_id: str, *, by: str, at: dt.datetime, reason: str
    ) -> DayRegistrationRecord:
        row = self._session.get(DayRegistrationRow, registration_id)
        if row is None:
            raise LookupError("no such day registration")
        row.active_key = None
        row.cancelled_at = at
        row.cancelled_by = by
        row.cancel_reason = reason
        self._session.add(row)
        _free_place(self._session, row.election_id, row.subject, holder_id=row.id)
        self._session.flush()
        return _day_registration(row)


# --- list entries and places on a list -------------------------------------------------------


def _take_place(
    session: Session, election_id: str, subject: str, kind: HolderKind, holder_id: str
) -> None:
    """The voter's one place on a list of the election; a second is a primary-key violation
    (``DuplicateRecord`` from the storage), whatever holds the first."""
    session.add(
        ListPlaceRow(
            election_id=election_id,
            voter_subject=subject,
            holder_kind=kind.value,
            holder_id=holder_id,
        )
    )


def _free_place(session: Session, election_id: str, subject: str, *, holder_id: str) -> None:
    session.flush()
    session.execute(
        delete(ListPlaceRow).where(
            col(ListPlaceRow.election_id) == election_id,
            col(ListPlaceRow.voter_subject) == subject,
            col(ListPlaceRow.holder_id) == holder_id,
        )
    )


def _list_entry(row: ListEntryRow) -> ListEntryRecord:
    return ListEntryRecord(
        id=row.id,
        election_id=row.election_id,
        subject=row.voter_subject,
        kind=ListEntryKind(row.kind),
        precinct_id=row.precinct_id,
        document_ref=row.document_ref,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        audit_seq=row.audit_seq,
        cancelled_at=as_utc(row.cancelled_at) if row.cancelled_at else None,
        cancelled_by=row.cancelled_by,
        cancel_reason=row.cancel_reason,
        cancel_audit_seq=row.cancel_audit_seq,
    )


class ListEntries:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, entry: ListEntryRecord) -> None:
        e = entry
        self._session.add(
            ListEntryRow(
                id=e.id,
                election_id=e.election_id,
                voter_subject=e.subject,
                kind=e.kind.value,
                precinct_id=e.precinct_id,
                document_ref=e.document_ref,
                created_by=e.created_by,
                created_at=e.created_at,
                audit_seq=e.audit_seq,
            )
        )
        _take_place(self._session, e.election_id, e.subject, HolderKind.LIST_ENTRY, e.id)
        self._session.flush()  # the place is checked here, inside the transaction

    def get(self, entry_id: str) -> ListEntryRecord | None:
        row = self._session.get(ListEntryRow, entry_id)
        return _list_entry(row) if row is not None else None

    def cancel(
        self, entry_id: str, *, by: str, at: dt.datetime, reason: str, audit_seq: int
    ) -> ListEntryRecord:
        row = self._session.get(ListEntryRow, entry_id)
        if row is None:
            raise LookupError("no such list entry")
        row.cancelled_at = at
        row.cancelled_by = by
        row.cancel_reason = reason
        row.cancel_audit_seq = audit_seq
        self._session.add(row)
        _free_place(self._session, row.election_id, row.voter_subject, holder_id=row.id)
        self._session.flush()
        return _list_entry(row)

    def page(
        self, query: ListEntryQuery, *, after: PageKey | None, limit: int
    ) -> list[ListEntryRecord]:
        q = query
        statement = _keyset(
            select(ListEntryRow),
            instant=col(ListEntryRow.created_at),
            record_id=col(ListEntryRow.id),
            after=after,
            limit=limit,
        ).where(
            *_equal(col(ListEntryRow.voter_subject), q.subject),
            *_equal(col(ListEntryRow.election_id), q.election_id),
            *_equal(col(ListEntryRow.kind), q.kind.value if q.kind else None),
            *_equal(col(ListEntryRow.precinct_id), q.precinct_id),
            *_between(col(ListEntryRow.created_at), q.created_after, q.created_before),
        )
        return [_list_entry(row) for row in self._session.exec(statement).all()]


# One statement on SQLite (3.35 on) and PostgreSQL: the first serial of an election, or one
# more than the last; PostgreSQL holds the row locked until this transaction ends.
_NEXT_SERIAL = sa_text(
    "INSERT INTO absentee_serials (election_id, last_serial) VALUES (:election_id, 1) "
    "ON CONFLICT (election_id) DO UPDATE SET last_serial = absentee_serials.last_serial + 1 "
    "RETURNING last_serial"
)


def _certificate(
    row: AbsenteeCertificateRow, use: AbsenteeCertificateUseRow | None
) -> AbsenteeCertificateRecord:
    return AbsenteeCertificateRecord(
        entry_id=row.entry_id,
        election_id=row.election_id,
        subject=row.voter_subject,
        serial=row.serial,
        used_at_precinct_id=use.precinct_id if use else None,
        used_at=as_utc(use.used_at) if use else None,
        used_by=use.used_by if use else None,
        use_audit_seq=use.audit_seq if use else None,
    )


class AbsenteeCertificates:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, certificate: AbsenteeCertificateRecord) -> None:
        c = certificate
        self._session.add(
            AbsenteeCertificateRow(
                entry_id=c.entry_id,
                election_id=c.election_id,
                voter_subject=c.subject,
                serial=c.serial,
            )
        )
        self._session.flush()  # the voter's and the serial's UNIQUE are checked here

    def _record(self, row: AbsenteeCertificateRow | None) -> AbsenteeCertificateRecord | None:
        if row is None:
            return None
        return _certificate(row, self._session.get(AbsenteeCertificateUseRow, row.entry_id))

    def get(self, entry_id: str) -> AbsenteeCertificateRecord | None:
        return self._record(self._session.get(AbsenteeCertificateRow, entry_id))

    def of_voter(self, *, election_id: str, subject: str) -> AbsenteeCertificateRecord | None:
        self._session.flush()
        row = self._session.exec(
            select(AbsenteeCertificateRow).where(
                AbsenteeCertificateRow.election_id == election_id,
                AbsenteeCertificateRow.voter_subject == subject,
            )
        ).first()
        return self._record(row)

    def next_serial(self, election_id: str) -> int:
        self._session.flush()
        taken = self._session.execute(_NEXT_SERIAL, {"election_id": election_id}).scalar_one()
        return int(taken)

    def use(
        self, entry_id: str, *, precinct_id: str, at: dt.datetime, by: str, audit_seq: int
    ) -> AbsenteeCertificateRecord:
        row = self._session.get(AbsenteeCertificateRow, entry_id)
        if row is None:
            raise LookupError("no such absentee certificate")
        use = AbsenteeCertificateUseRow(
            entry_id=entry_id,
            election_id=row.election_id,
            precinct_id=precinct_id,
            used_at=at,
            used_by=by,
            audit_seq=audit_seq,
        )
        self._session.add(use)
        self._session.flush()  # the primary key refuses a second use here
        return _certificate(row, use)


class ListPlaces:
    def __init__(self, session: Session) -> None:
        self._session = session

    def holders(
        self, *, election_id: str, subjects: Sequence[str], now: dt.datetime
    ) -> dict[str, ListPlace]:
        self._session.flush()  # this transaction's own writes first
        found: dict[str, ListPlace] = {}
        # In slices: a presence list may name thousands of voters.
        for start in range(0, len(subjects), 500):
            for row in self._session.exec(
                select(ListPlaceRow).where(
                    ListPlaceRow.election_id == election_id,
                    col(ListPlaceRow.voter_subject).in_(subjects[start : start + 500]),
                )
            ):
                found[row.voter_subject] = ListPlace(HolderKind(row.holder_kind), row.holder_id)
        for subject in self._lapsed(election_id, found, now=now):
            _free_place(self._session, election_id, subject, holder_id=found.pop(subject).holder_id)
        return found

    def _lapsed(
        self, election_id: str, places: Mapping[str, ListPlace], *, now: dt.datetime
    ) -> list[str]:
        """Those of ``places`` whose holder no longer places the voter: a day registration
        that has lapsed or an override that has expired (a list entry holds until it is
        cancelled, and cancelling frees the place)."""
        judged = [s for s, p in places.items() if p.holder_kind is not HolderKind.LIST_ENTRY]
        if not judged:
            return []
        in_force = standings(
            self._session.connection(), election_id=election_id, subjects=judged, now=now
        )
        lapsed = []
        for subject in judged:
            standing = in_force.get(subject, NO_STANDING)
            holders = (standing.override, standing.day_registration)
            if places[subject].holder_id not in {h.id for h in holders if h is not None}:
                lapsed.append(subject)
        return lapsed


class IdempotencyRecords:
    def __init__(self, session: Session) -> None:
        self._session = session

    def find(self, *, caller: str, operation: str, key: str) -> IdempotencyRecord | None:
        row = self._session.get(IdempotencyRow, (caller, operation, key))
        if row is None:
            return None
        return IdempotencyRecord(
            caller=row.caller,
            operation=row.operation,
            key=row.key,
            request_sha256=row.request_sha256,
            answer=Answer(row.status_code, row.response_body.encode()),
            created_at=as_utc(row.created_at),
        )

    def remember(self, record: IdempotencyRecord) -> None:
        self._session.add(
            IdempotencyRow(
                caller=record.caller,
                operation=record.operation,
                key=record.key,
                request_sha256=record.request_sha256,
                status_code=record.answer.status,
                response_body=record.answer.body.decode(),
                created_at=record.created_at,
            )
        )
        self._session.flush()


# --- overrides ---------------------------------------------------------------------------


def _override(row: OverrideRow) -> OverrideRecord:
    return OverrideRecord(
        id=row.id,
        election_id=row.election_id,
        subject=row.subject,
        kind=row.kind,
        precinct_id=row.precinct_id,
        reason_code=row.reason_code,
        reason_text=row.reason_text,
        document_ref=row.document_ref,
        expires_on=row.expires_on,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        audit_seq=row.audit_seq,
    )


class Overrides:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, override: OverrideRecord) -> None:
        self._session.add(OverrideRow(**vars(override)))
        self._session.flush()

    def get(self, override_id: str) -> OverrideRecord | None:
        row = self._session.get(OverrideRow, override_id)
        return _override(row) if row is not None else None

    def actions(self, override_id: str) -> list[OverrideActionRecord]:
        rows = self._session.exec(
            select(OverrideActionRow)
            .where(OverrideActionRow.override_id == override_id)
            .order_by(col(OverrideActionRow.id))
        ).all()
        return [
            OverrideActionRecord(
                override_id=row.override_id,
                action=OverrideAction(row.action),
                actor=row.actor,
                at=as_utc(row.at),
                reason=row.reason,
                audit_seq=row.audit_seq,
            )
            for row in rows
        ]

    def add_action(self, action: OverrideActionRecord) -> None:
        self._session.add(
            OverrideActionRow(
                override_id=action.override_id,
                action=action.action.value,
                actor=action.actor,
                at=action.at,
                reason=action.reason,
                audit_seq=action.audit_seq,
            )
        )
        self._session.flush()

    def page(
        self, query: OverrideQuery, *, after: PageKey | None, limit: int
    ) -> list[OverrideRecord]:
        q = query
        statement = _keyset(
            select(OverrideRow),
            instant=col(OverrideRow.created_at),
            record_id=col(OverrideRow.id),
            after=after,
            limit=limit,
        ).where(
            *_equal(col(OverrideRow.subject), q.subject),
            *_equal(col(OverrideRow.election_id), q.election_id),
            *_equal(col(OverrideRow.kind), q.kind),
            *_equal(col(OverrideRow.precinct_id), q.precinct_id),
            *_between(col(OverrideRow.created_at), q.created_after, q.created_before),
        )
        return [_override(row) for row in self._session.exec(statement).all()]

    def hold(self, *, election_id: str, subject: str, override_id: str) -> None:
        _take_place(self._session, election_id, subject, HolderKind.OVERRIDE, override_id)
        self._session.flush()  # the place is checked here, inside the transaction

    def release(self, *, election_id: str, subject: str, override_id: str) -> None:
        _free_place(self._session, election_id, subject, holder_id=override_id)


# --- requests to undo (revoke, cancel) ----------------------------------------------------


def _pending_key(target_kind: str, target_id: str) -> str:
    return f"{target_kind}|{target_id}"


def _undo_request(row: UndoRequestRow) -> UndoRequestRecord:
    return UndoRequestRecord(
        id=row.id,
        target_kind=row.target_kind,
        target_id=row.target_id,
        requested_by=row.requested_by,
        requested_at=as_utc(row.requested_at),
        reason=row.reason,
        audit_seq=row.audit_seq,
        status=UndoStatus(row.status),
        decided_by=row.decided_by,
        decided_at=as_utc(row.decided_at) if row.decided_at else None,
        decision_reason=row.decision_reason,
        decision_audit_seq=row.decision_audit_seq,
    )


class UndoRequests:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, request: UndoRequestRecord) -> None:
        r = request
        is_open = r.status is UndoStatus.PENDING
        self._session.add(
            UndoRequestRow(
                id=r.id,
                target_kind=r.target_kind,
                target_id=r.target_id,
                requested_by=r.requested_by,
                requested_at=r.requested_at,
                reason=r.reason,
                audit_seq=r.audit_seq,
                pending_key=_pending_key(r.target_kind, r.target_id) if is_open else None,
                status=r.status.value,
                decided_by=r.decided_by,
                decided_at=r.decided_at,
                decision_reason=r.decision_reason,
                decision_audit_seq=r.decision_audit_seq,
            )
        )
        self._session.flush()  # the UNIQUE pending_key is checked here, inside the transaction

    def of(self, *, target_kind: str, target_id: str) -> list[UndoRequestRecord]:
        rows = self._session.exec(
            select(UndoRequestRow)
            .where(UndoRequestRow.target_kind == target_kind, UndoRequestRow.target_id == target_id)
            .order_by(col(UndoRequestRow.requested_at), col(UndoRequestRow.audit_seq))
        ).all()
        return [_undo_request(row) for row in rows]

    def decide(
        self,
        request_id: str,
        *,
        status: UndoStatus,
        by: str,
        at: dt.datetime,
        reason: str | None,
        audit_seq: int,
    ) -> UndoRequestRecord:
        # Compare-and-set on the open key: a concurrent decision that committed first has
        # cleared it, and this UPDATE then matches no row (on PostgreSQL it waits for that
        # commit and re-reads the row).
        result = self._session.exec(
            update(UndoRequestRow)
            .where(
                col(UndoRequestRow.id) == request_id,
                col(UndoRequestRow.pending_key).is_not(None),
            )
            .values(
                pending_key=None,
                status=status.value,
                decided_by=by,
                decided_at=at,
                decision_reason=reason,
                decision_audit_seq=audit_seq,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise DuplicateRecord
        self._session.expire_all()
        row = self._session.get(UndoRequestRow, request_id)
        assert row is not None  # just updated in this transaction
        return _undo_request(row)


# --- holds on accounts -------------------------------------------------------------------


def _account_hold(row: AccountHoldRow) -> AccountHoldRecord:
    return AccountHoldRecord(
        id=row.id,
        account=row.account,
        role=row.role,
        placed_at=as_utc(row.placed_at),
        distinct_voters=row.distinct_voters,
        threshold=row.threshold,
        audit_seq=row.audit_seq,
        lifted_by=row.lifted_by,
        lifted_at=as_utc(row.lifted_at) if row.lifted_at else None,
        lift_reason=row.lift_reason,
        lift_audit_seq=row.lift_audit_seq,
    )


def held_accounts(session: Session) -> set[str]:
    """The accounts under a hold in force: what every replica refuses."""
    rows = session.exec(
        select(AccountHoldRow.account).where(col(AccountHoldRow.active_key).is_not(None))
    ).all()
    return set(rows)


class AccountHolds:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, hold: AccountHoldRecord) -> None:
        h = hold
        self._session.add(
            AccountHoldRow(
                id=h.id,
                account=h.account,
                role=h.role,
                placed_at=h.placed_at,
                distinct_voters=h.distinct_voters,
                threshold=h.threshold,
                audit_seq=h.audit_seq,
                active_key=h.account if h.is_active else None,
                lifted_by=h.lifted_by,
                lifted_at=h.lifted_at,
                lift_reason=h.lift_reason,
                lift_audit_seq=h.lift_audit_seq,
            )
        )
        self._session.flush()  # the UNIQUE active_key is checked here, inside the transaction

    def get(self, hold_id: str) -> AccountHoldRecord | None:
        row = self._session.get(AccountHoldRow, hold_id)
        return _account_hold(row) if row else None

    def active(self) -> list[AccountHoldRecord]:
        rows = self._session.exec(
            select(AccountHoldRow)
            .where(col(AccountHoldRow.active_key).is_not(None))
            .order_by(col(AccountHoldRow.placed_at), col(AccountHoldRow.id))
        ).all()
        return [_account_hold(row) for row in rows]

    def lift(
        self, hold_id: str, *, by: str, at: dt.datetime, reason: str, audit_seq: int
    ) -> AccountHoldRecord:
        # Compare-and-set on the active key, as for undo requests: of two lifts, one matches.
        result = self._session.exec(
            update(AccountHoldRow)
            .where(col(AccountHoldRow.id) == hold_id, col(AccountHoldRow.active_key).is_not(None))
            .values(
                active_key=None,
                lifted_by=by,
                lifted_at=at,
                lift_reason=reason,
                lift_audit_seq=audit_seq,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise DuplicateRecord
        self._session.expire_all()
        row = self._session.get(AccountHoldRow, hold_id)
        assert row is not None  # just updated in this transaction
        return _account_hold(row)


# --- voter-list runs ---------------------------------------------------------------------


def roll_run_in_status(session: Session, *, election_id: str, status: str) -> RollRunRow | None:
    return session.exec(
        select(RollRunRow).where(RollRunRow.election_id == election_id, RollRunRow.status == status)
    ).first()


def get_roll_run(session: Session, run_id: str) -> RollRunRow | None:
    return session.get(RollRunRow, run_id)


def add_roll_row(session: Session, row: RollRunRow | RollChunkRow) -> None:
    session.add(row)
    session.flush()


def last_roll_chunk(session: Session, run_id: str) -> RollChunkRow | None:
    return session.exec(
        select(RollChunkRow)
        .where(RollChunkRow.run_id == run_id)
        .order_by(col(RollChunkRow.chunk_no).desc())
        .limit(1)
    ).first()


def roll_persons_done(session: Session, run_id: str) -> int:
    return sum(
        session.exec(select(RollChunkRow.persons).where(RollChunkRow.run_id == run_id)).all()
    )


def roll_chunks(session: Session, run_id: str) -> list[RollChunkRow]:
    return list(
        session.exec(
            select(RollChunkRow)
            .where(RollChunkRow.run_id == run_id)
            .order_by(col(RollChunkRow.chunk_no))
        ).all()
    )
