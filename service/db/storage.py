"""The use cases' storage port on the service database: one session, one transaction, per unit.

Nothing a use case acknowledges exists outside a committed transaction that also holds its
audit entry; if the database refuses either, the whole unit fails. Decisions (checks) go
through the group commit instead (``service.db.group_commit``); the rarer writes
(registrations, overrides, imports) each run a unit of work of their own here.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import anyio
import orjson
from sqlalchemy import Select
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session

from service.audit.log import AuditLog
from service.audit.tables import AuditEntryRow
from service.db import repository
from service.db.engine import Database, read_session, write_session
from service.db.repository import as_utc
from service.db.statistics import SqlStatistics
from service.domain.access_log import TrailEntry
from service.errors import StorageUnavailable
from service.logs import get_logger
from service.usecases.ports import DuplicateRecord, Receipt, UnitOfWork

_log = get_logger("service.storage")
_ENTRIES = AuditEntryRow.metadata.tables["audit_entries"]
# An audit entry as the access log and the statistics read it.
_TRAIL = sa_select(_ENTRIES.c.seq, _ENTRIES.c.kind, _ENTRIES.c.recorded_at, _ENTRIES.c.body)

T = TypeVar("T")


class WriteObserver(Protocol):
    """Told how long each write transaction took, refused and failed ones included."""

    def observe_audit_append(self, seconds: float) -> None: ...


class SqlAuditTrail:
    def __init__(self, session: Session, audit_log: AuditLog) -> None:
        self._session = session
        self._audit_log = audit_log

    def append(
        self,
        *,
        kind: str,
        subject: str | None,
        payload: Mapping[str, Any],
        recorded_at: dt.datetime,
    ) -> Receipt:
        return self._audit_log.append(
            self._session, kind=kind, subject=subject, payload=payload, recorded_at=recorded_at
        )

    def receipt_of(self, seq: int) -> Receipt:
        [entry] = self._audit_log.entries(self._session, after_seq=seq - 1, limit=1)
        return Receipt(entry.seq, entry.entry_hash)

    def about(self, subject: str, *, before_seq: int | None, limit: int) -> list[TrailEntry]:
        # The subject index finds a voter's few entries among millions; newest first.
        query = _TRAIL.where(_ENTRIES.c.subject == subject)
        if before_seq is not None:
            query = query.where(_ENTRIES.c.seq < before_seq)
        return self._trail(query.order_by(_ENTRIES.c.seq.desc()).limit(limit))

    def after(self, seq: int, *, limit: int) -> list[TrailEntry]:
        # The statistics folder reads every entry of the log once, in the API's own process
        # beside the checks: Core rows, not ORM objects.
        return self._trail(_TRAIL.where(_ENTRIES.c.seq > seq).order_by(_ENTRIES.c.seq).limit(limit))

    def _trail(self, query: Select[Any]) -> list[TrailEntry]:
        return [
            TrailEntry(
                seq=seq,
                kind=kind,
                recorded_at=as_utc(recorded_at),
                payload=orjson.loads(body)["payload"],
            )
            for seq, kind, recorded_at, body in self._session.connection().execute(query)
        ]


class SqlUnitOfWork:
    def __init__(self, session: Session, audit_log: AuditLog) -> None:
        self.overrides = repository.Overrides(session)
        self.day_registrations = repository.DayRegistrations(session)
        self.list_entries = repository.ListEntries(session)
        self.list_places = repository.ListPlaces(session)
        self.absentee_certificates = repository.AbsenteeCertificates(session)
        self.undo_requests = repository.UndoRequests(session)
        self.account_holds = repository.AccountHolds(session)
        self.standing = repository.Standings(session)
        self.idempotency = repository.IdempotencyRecords(session)
        self.audit = SqlAuditTrail(session, audit_log)
        self.reference = repository.ReferenceTables(session)
        self.statistics = SqlStatistics(session)


class SqlStorage:
    def __init__(
        self, database: Database, *, audit_log: AuditLog, observer: WriteObserver | None = None
    ) -> None:
        self._database = database
        self._audit_log = audit_log
        self._observer = observer

    def transact_blocking(self, work: Callable[[UnitOfWork], T]) -> T:
        started = time.perf_counter()
        try:
            with write_session(self._database) as session:
                return work(SqlUnitOfWork(session, self._audit_log))
        except IntegrityError as exc:
            # A UNIQUE constraint saying "already there": the use case's to interpret.
            raise DuplicateRecord from exc
        except SQLAlchemyError as exc:
            _log.error("storage.write.failed", error=type(exc).__name__)
            raise StorageUnavailable from exc
        finally:
            # Failed and refused transactions too: a write queueing for the lock or
            # timing out is what this measurement is for.
            if self._observer is not None:
                self._observer.observe_audit_append(time.perf_counter() - started)

    async def transact(self, work: Callable[[UnitOfWork], T]) -> T:
        return await anyio.to_thread.run_sync(self.transact_blocking, work)

    async def read(self, work: Callable[[UnitOfWork], T]) -> T:
        def run() -> T:
            with read_session(self._database) as session:
                return work(SqlUnitOfWork(session, self._audit_log))

        try:
            return await anyio.to_thread.run_sync(run)
        except SQLAlchemyError as exc:
            _log.error("storage.read.failed", error=type(exc).__name__)
            raise StorageUnavailable from exc
