"""Writing a decision and its audit entry in one transaction, off the event loop."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import anyio
import orjson
from sqlalchemy.exc import SQLAlchemyError

from service.audit.log import AuditLog, Receipt
from service.audit.pseudonym import pseudonymise
from service.db import repository
from service.db.engine import Database, write_session
from service.db.tables import DecisionRow
from service.errors import StorageUnavailable
from service.logs import get_logger

_log = get_logger("service.recording")

__all__ = ["Receipt", "Recorder"]


class Recorder:
    def __init__(self, *, database: Database, audit_log: AuditLog, hmac_key: bytes) -> None:
        self._database = database
        self._audit_log = audit_log
        self._hmac_key = hmac_key

    def subject_of(self, iin: str) -> str:
        return pseudonymise(iin, key=self._hmac_key)

    def _write(
        self,
        *,
        kind: str,
        subject: str,
        decision_id: str,
        election_id: str,
        outcome: str,
        payload: Mapping[str, Any],
        decided_at: dt.datetime,
    ) -> Receipt:
        with write_session(self._database) as session:
            receipt = self._audit_log.append(
                session, kind=kind, subject=subject, payload=payload, recorded_at=decided_at
            )
            repository.add_decision(
                session,
                DecisionRow(
                    decision_id=decision_id,
                    kind=kind,
                    election_id=election_id,
                    subject=subject,
                    outcome=outcome,
                    decided_at=decided_at,
                    audit_seq=receipt.seq,
                    body=orjson.dumps(payload).decode(),
                ),
            )
        return receipt

    async def record(
        self,
        *,
        kind: str,
        iin: str,
        decision_id: str,
        election_id: str,
        outcome: str,
        payload: Mapping[str, Any],
        decided_at: dt.datetime,
    ) -> Receipt:
        """Commit the decision and its audit entry durably; raise if either fails."""
        subject = self.subject_of(iin)
        try:
            return await anyio.to_thread.run_sync(
                lambda: self._write(
                    kind=kind,
                    subject=subject,
                    decision_id=decision_id,
                    election_id=election_id,
                    outcome=outcome,
                    payload=payload,
                    decided_at=decided_at,
                )
            )
        except SQLAlchemyError as exc:
            _log.error("audit.append.failed", error=type(exc).__name__)
            raise StorageUnavailable from exc
