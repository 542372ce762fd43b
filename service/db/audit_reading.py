"""The audit log as auditors and observers read it: entries, checkpoints and Merkle proofs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from service.audit.chain import ChainEntry, Checkpoint
from service.audit.log import AuditReader, InclusionProof
from service.db.engine import Database, read_session
from service.errors import ErrorCode, InvalidInput, NotFound, StorageUnavailable

T = TypeVar("T")


@dataclass(frozen=True)
class ConsistencyProof:
    path: list[bytes]
    first_note: str | None
    second_note: str | None


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

    async def inclusion(self, *, seq: int, tree_size: int) -> tuple[InclusionProof, str | None]:
        """The proof that entry ``seq`` is in the tree of ``tree_size`` leaves, and the signed
        checkpoint note at that size if there is one. PROOF_RANGE_INVALID unless seq <=
        tree_size; TREE_SIZE_UNKNOWN when the log is shorter than tree_size."""
        if seq > tree_size:
            raise InvalidInput(ErrorCode.PROOF_RANGE_INVALID)

        def query(session: Session) -> tuple[InclusionProof, str | None]:
            self._require_size(session, tree_size)
            proof = self._reader.inclusion(session, seq=seq, tree_size=tree_size)
            assert proof is not None  # seq <= tree_size <= the log's length
            return proof, self._note_at(session, tree_size)

        return await self._read(query)

    async def consistency(self, *, first: int, second: int) -> ConsistencyProof:
        """PROOF(first, second) and the notes at both sizes; PROOF_RANGE_INVALID unless
        first <= second; TREE_SIZE_UNKNOWN when the log is shorter than second."""
        if first > second:
            raise InvalidInput(ErrorCode.PROOF_RANGE_INVALID)

        def query(session: Session) -> ConsistencyProof:
            self._require_size(session, second)
            return ConsistencyProof(
                path=self._reader.consistency(session, first=first, second=second),
                first_note=self._note_at(session, first),
                second_note=self._note_at(session, second),
            )

        return await self._read(query)

    def _require_size(self, session: Session, size: int) -> None:
        if self._reader.chain_length(session) < size:
            raise NotFound(ErrorCode.TREE_SIZE_UNKNOWN)

    def _note_at(self, session: Session, size: int) -> str | None:
        checkpoint = self._reader.checkpoint_at(session, size)
        return checkpoint.note if checkpoint is not None else None

    async def _read(self, query: Callable[[Session], T]) -> T:
        def run() -> T:
            with read_session(self._database) as session:
                return query(session)

        try:
            return await anyio.to_thread.run_sync(run)
        except SQLAlchemyError as exc:
            raise StorageUnavailable from exc
