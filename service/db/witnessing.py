"""The witnesses' side of the audit log over the service database: the newest checkpoint with
its cosignatures, and keeping a witness's cosignature (``service.audit.witnesses``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from service.audit.chain import Checkpoint
from service.audit.log import AuditLog
from service.audit.witnesses import (
    Cosigned,
    cosign,
    cosignature_lines,
    newest_witnessed,
    with_cosignatures,
)
from service.clock import Clock
from service.db.engine import Database, read_session, write_session
from service.errors import StorageUnavailable

T = TypeVar("T")


@dataclass(frozen=True)
class WitnessedCheckpoint:
    checkpoint: Checkpoint
    # The service's note followed by every kept cosignature line; None before the tree.
    note: str | None
    cosigned_by: tuple[str, ...]
    witnessed: bool


class AuditWitnessing:
    def __init__(self, database: Database, *, audit_log: AuditLog, clock: Clock, quorum: int):
        self._database = database
        self._audit_log = audit_log
        self._clock = clock
        self._quorum = quorum

    async def latest(self, *, witnessed: bool = False) -> WitnessedCheckpoint | None:
        """The newest checkpoint, or with ``witnessed`` the newest the quorum cosigned."""

        def read(session: Session) -> WitnessedCheckpoint | None:
            checkpoint = (
                newest_witnessed(session, quorum=self._quorum)
                if witnessed
                else self._audit_log.latest_checkpoint(session)
            )
            if checkpoint is None:
                return None
            kept = cosignature_lines(session, checkpoint.size)
            return WitnessedCheckpoint(
                checkpoint=checkpoint,
                note=with_cosignatures(checkpoint.note, [line for _, line in kept])
                if checkpoint.note is not None
                else None,
                cosigned_by=tuple(name for name, _ in kept),
                witnessed=len(kept) >= self._quorum,
            )

        return await self._run(read, write=False)

    async def cosign(self, note: str, *, actor: dict[str, Any]) -> Cosigned:
        now = self._clock.now()
        return await self._run(
            lambda session: cosign(
                session, self._audit_log, note=note, actor=actor, quorum=self._quorum, now=now
            ),
            write=True,
        )

    async def _run(self, work: Callable[[Session], T], *, write: bool) -> T:
        def run() -> T:
            opened = write_session if write else read_session
            with opened(self._database) as session:
                return work(session)

        try:
            return await anyio.to_thread.run_sync(run)
        except SQLAlchemyError as exc:
            raise StorageUnavailable from exc
