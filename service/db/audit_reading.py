"""The audit log as auditors and observers read it: entries and the newest checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from service.audit.chain import ChainEntry, Checkpoint
from service.audit.log import AuditReader
from service.db.engine import Database, read_session
from service.errors import StorageUnavailable

T = TypeVar("T")


class AuditReading:
    def __init__(self, database: Database, *, reader: AuditReader) -> None:
        self._database = database
        self._reader = reader

    async def entries(self, *, after_seq: int, limit: int) -> list[ChainEntry]:
        return await self._read(
            lambda session: self._reader.entries(session, after_seq=after_seq, limit=limit)
        )

    async def latest_checkpoint(self) -> Checkpoint | None:
        return await self._read(self._reader.latest_checkpoint)

    async def _read(self, query: Callable[[Session], T]) -> T:
        def run() -> T:
            with read_session(self._database) as session:
                return query(session)

        try:
            return await anyio.to_thread.run_sync(run)
        except SQLAlchemyError as exc:
            raise StorageUnavailable from exc
