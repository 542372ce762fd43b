"""Group commit: decisions are taken, audited and committed in batches, one fsync for many.

A durable commit costs one fsync, however many rows it carries. Committing each check on its
own makes the disk's fsync rate the service's ceiling (and a cloud disk's fsync is slow), so
checks queue here and a single writer task commits whatever queued while its previous commit
ran: nothing waits for a batch to fill, and under load batches grow by themselves.

Each job's decision is taken inside the transaction that records it, from the upstream answers
gathered before and the operators' records read in that same transaction (one query per batch,
not per check). So a decision and the override or day registration it rests on are one
consistent snapshot, serialised with the writes that change them, and the audit log's order is
the order in which the law was applied.

Nothing is acknowledged before its batch commits: ``decide_and_record`` (the use cases'
``DecisionLog`` port) resolves only after COMMIT returns. A batch the database refuses fails
every job in it with ``StorageUnavailable``.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import time
from collections.abc import Sequence
from typing import Any, TypeVar

import anyio
import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from service.audit.log import AuditLog, NewEntry
from service.clock import Clock
from service.db import repository
from service.db.engine import Database, write_session
from service.db.storage import WriteObserver
from service.errors import StorageUnavailable
from service.logs import get_logger
from service.usecases.ports import NO_STANDING, Decided, DecisionJob, Recorded, Standing

_log = get_logger("service.recording")

T = TypeVar("T")

# Enough to carry every in-flight request of one worker in one commit; bounds one transaction.
DEFAULT_MAX_BATCH = 512


class _Pending:
    __slots__ = ("future", "job")

    def __init__(self, job: DecisionJob[Any], future: asyncio.Future[Recorded[Any]]) -> None:
        self.job = job
        self.future = future


class DecisionWriter:
    """The single writer task of one process; see the module docstring."""

    def __init__(
        self,
        *,
        database: Database,
        audit_log: AuditLog,
        clock: Clock,
        observer: WriteObserver | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._database = database
        self._audit_log = audit_log
        self._clock = clock
        self._observer = observer
        self._max_batch = max_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None

    async def decide_and_record(self, job: DecisionJob[T]) -> Recorded[T]:
        """Take and record ``job``'s decision; returns once it is committed, or raises."""
        queue = self._queue_for_this_loop()
        future: asyncio.Future[Recorded[T]] = asyncio.get_running_loop().create_future()
        queue.put_nowait(_Pending(job, future))
        return await future

    async def aclose(self) -> None:
        """Commit what is queued, then stop the writer task."""
        if self._queue is None or self._task is None:
            return
        if self._loop is asyncio.get_running_loop():
            await self._queue.join()
        self._task.cancel()
        self._task = None
        self._queue = None

    def _queue_for_this_loop(self) -> asyncio.Queue[_Pending]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._task is None or self._task.done() or self._loop is not loop:
            # One writer per event loop; a new loop (a test client's) gets a fresh one, and
            # a writer that died (it should not: it outlives failed batches) is replaced.
            self._loop = loop
            self._queue = asyncio.Queue()
            # A context of its own: not the first caller's request id and account on its logs.
            self._task = loop.create_task(
                self._run(self._queue), name="decision-writer", context=contextvars.Context()
            )
        return self._queue

    async def _run(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                outcomes = await anyio.to_thread.run_sync(self._commit, [p.job for p in batch])
            except SQLAlchemyError as exc:
                _log.error(
                    "storage.write.failed",
                    error=type(exc).__name__,
                    # The driver's own code (SQLITE_FULL, SQLITE_BUSY, a PostgreSQL SQLSTATE):
                    # tells a full disk from a held lock; never carries row data.
                    driver_code=_driver_code(exc),
                    batch=len(batch),
                )
                outcomes = [_storage_unavailable(exc) for _ in batch]
            except Exception as exc:  # noqa: BLE001 - the writer must outlive one bad batch
                _log.exception("decision.batch.failed", batch=len(batch))
                outcomes = [exc for _ in batch]
            for pending, outcome in zip(batch, outcomes, strict=True):
                if not pending.future.done():  # the caller may have gone (client disconnect)
                    if isinstance(outcome, BaseException):
                        pending.future.set_exception(outcome)
                    else:
                        pending.future.set_result(outcome)
                queue.task_done()

    def _commit(self, jobs: Sequence[DecisionJob[Any]]) -> list[Recorded[Any] | Exception]:
        started = time.perf_counter()
        try:
            with write_session(self._database) as session:
                # Core and driver-level statements on the session's connection: a batch needs
                # nothing of the ORM's unit of work, whose per-statement bookkeeping was much of
                # this thread's CPU (and so of the event loop's GIL time).
                return self._decide_and_append(session.connection(), jobs)
        finally:
            if self._observer is not None:
                self._observer.observe_audit_append(time.perf_counter() - started)

    def _decide_and_append(
        self, connection: Connection, jobs: Sequence[DecisionJob[Any]]
    ) -> list[Recorded[Any] | Exception]:
        # Before the standing reads: an override or day registration another process commits
        # to the chain is then either seen by this batch or chained after it, never between.
        self._audit_log.lock_chain(connection)
        now = self._clock.now()
        standings = _standings(connection, [j for j in jobs if j.needs_standing], now=now)
        outcomes: list[Recorded[Any] | Exception | None] = [None] * len(jobs)
        decided: list[tuple[int, DecisionJob[Any], Decided[Any]]] = []
        for index, job in enumerate(jobs):
            standing = standings.get((job.election_id, job.subject), NO_STANDING)
            try:
                decided.append((index, job, job.decide(standing, now)))
            except Exception as exc:  # noqa: BLE001 - one job's bug must not sink the batch
                _log.exception("decision.failed", kind=job.kind)
                outcomes[index] = exc
        receipts = self._audit_log.append_many(
            connection,
            [
                NewEntry(kind=job.kind, subject=job.subject, payload=d.payload, recorded_at=now)
                for _, job, d in decided
            ],
        )
        repository.add_decisions(
            connection,
            [
                repository.NewDecision(
                    decision_id=job.decision_id,
                    kind=job.kind,
                    election_id=job.election_id,
                    subject=job.subject,
                    outcome=d.outcome,
                    audit_seq=receipt.seq,
                    body=orjson.dumps(d.payload).decode(),
                )
                for (_, job, d), receipt in zip(decided, receipts, strict=True)
            ],
            decided_at=now,
        )
        for (index, _, d), receipt in zip(decided, receipts, strict=True):
            outcomes[index] = Recorded(result=d.result, decided_at=now, receipt=receipt)
        return [outcome for outcome in outcomes if outcome is not None]


def _driver_code(exc: SQLAlchemyError) -> str | None:
    original = getattr(exc, "orig", None)
    code = getattr(original, "sqlite_errorname", None) or getattr(original, "sqlstate", None)
    return str(code) if code else None


def _storage_unavailable(cause: SQLAlchemyError) -> StorageUnavailable:
    error = StorageUnavailable()
    error.__cause__ = cause
    return error


def _standings(
    connection: Connection, jobs: Sequence[DecisionJob[Any]], *, now: dt.datetime
) -> dict[tuple[str, str], Standing]:
    """Every job's standing: one query per election in the batch (usually one), none while
    no one at all has a day registration or an override."""
    if not jobs or not repository.anyone_has_standing(connection):
        return {}
    subjects_by_election: dict[str, set[str]] = {}
    for job in jobs:
        subjects_by_election.setdefault(job.election_id, set()).add(job.subject)
    return {
        (election_id, subject): standing
        for election_id, subjects in subjects_by_election.items()
        for subject, standing in repository.standings(
            connection, election_id=election_id, subjects=subjects, now=now
        ).items()
    }
