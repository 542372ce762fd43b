"""Durable writes: state changes and their audit entries in one transaction, off the loop.

Nothing a use case acknowledges exists outside a committed transaction that also holds its
audit entry; if the database refuses either, the whole request fails. Decisions (checks) go
through the group commit in ``group_commit``; the rarer writes (registrations, overrides,
imports) each run their own transaction through ``transact``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import anyio
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session

from service.audit.log import AuditLog, Receipt
from service.audit.pseudonym import pseudonymise
from service.clock import Clock, SystemClock
from service.db.engine import Database, read_session, write_session
from service.errors import StorageUnavailable
from service.logs import get_logger
from service.usecases.group_commit import Decided, DecisionJob, DecisionWriter, Recorded

_log = get_logger("service.recording")

T = TypeVar("T")

__all__ = ["Decided", "DecisionJob", "IntegrityError", "Receipt", "Recorded", "Recorder"]


class AuditAppendObserver(Protocol):
    def observe_audit_append(self, seconds: float) -> None: ...


class Recorder:
    def __init__(
        self,
        *,
        database: Database,
        audit_log: AuditLog,
        hmac_key: bytes,
        clock: Clock | None = None,
        observer: AuditAppendObserver | None = None,
    ) -> None:
        self._database = database
        self._audit_log = audit_log
        self._hmac_key = hmac_key
        self._observer = observer
        self._writer = DecisionWriter(
            database=database, audit_log=audit_log, clock=clock or SystemClock(), observer=observer
        )

    def subject_of(self, iin: str) -> str:
        return pseudonymise(iin, key=self._hmac_key)

    def audit(
        self,
        session: Session,
        *,
        kind: str,
        subject: str | None,
        payload: Mapping[str, Any],
        recorded_at: dt.datetime,
    ) -> Receipt:
        return self._audit_log.append(
            session, kind=kind, subject=subject, payload=payload, recorded_at=recorded_at
        )

    def receipt_of(self, session: Session, seq: int) -> Receipt:
        [entry] = self._audit_log.entries(session, after_seq=seq - 1, limit=1)
        return Receipt(entry.seq, entry.entry_hash)

    async def transact(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one write transaction in a worker thread; commit or fail whole.

        IntegrityError is the caller's to interpret (a UNIQUE constraint saying "already
        registered", say); any other database error means nothing was acknowledged.
        """

        def run() -> T:
            started = time.perf_counter()
            try:
                with write_session(self._database) as session:
                    return work(session)
            finally:
                # Failed and refused transactions too: a write queueing for the lock or
                # timing out is what this measurement is for.
                if self._observer is not None:
                    self._observer.observe_audit_append(time.perf_counter() - started)

        try:
            return await anyio.to_thread.run_sync(run)
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            _log.error("storage.write.failed", error=type(exc).__name__)
            raise StorageUnavailable from exc

    async def read(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with read_session(self._database) as session:
                return work(session)

        try:
            return await anyio.to_thread.run_sync(run)
        except SQLAlchemyError as exc:
            _log.error("storage.read.failed", error=type(exc).__name__)
            raise StorageUnavailable from exc

    async def decide_and_record(self, job: DecisionJob[T]) -> Recorded[T]:
        """Take ``job``'s decision and commit it with its audit entry (group commit)."""
        return await self._writer.submit(job)

    async def record_decision(
        self,
        *,
        kind: str,
        subject: str,
        decision_id: str,
        election_id: str,
        outcome: str,
        payload: Mapping[str, Any],
    ) -> Recorded[None]:
        """Commit an already-taken decision (an ``undetermined`` one, say) and its entry."""

        def taken(_standing: object, _now: dt.datetime) -> Decided[None]:
            return Decided(outcome=outcome, payload=payload, result=None)

        return await self._writer.submit(
            DecisionJob(
                kind=kind,
                subject=subject,
                election_id=election_id,
                decision_id=decision_id,
                decide=taken,
                needs_standing=False,
            )
        )

    async def aclose(self) -> None:
        """Commit the decisions still queued and stop the group-commit writer."""
        await self._writer.aclose()
