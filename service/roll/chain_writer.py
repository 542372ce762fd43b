"""Appending entries rendered ahead of time: the compile's fast path onto the one chain.

``AuditLog.append_many`` renders every entry's canonical body in the writer, which at twelve
million entries is the whole budget of one core. The compile's workers render each body for
the seq it is expected to take; the writer then only checks that the chain's head is where
the bodies expect it, links the hashes and inserts (COPY on PostgreSQL). If another writer
appended in between, nothing is written and the caller falls back to ``append_many``.

The head is read, locked and checkpointed and the Merkle tree grown exactly as ``AuditLog`` does
it (this class reuses its ``_head``, ``_compact_range``, ``_store_tree`` and
``_write_checkpoint``), so both paths append to one linear chain and one tree.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from service.audit.log import AuditLog
from service.audit.merkle import Subtree, leaf_hash
from service.audit.tables import AuditEntryRow

_PSEUDONYM = re.compile(r"v1:[0-9a-f]{64}")
_COPY_ENTRIES = (
    "COPY audit_entries (seq, prev_hash, entry_hash, kind, subject, body, recorded_at) FROM STDIN"
)


@dataclass(frozen=True)
class Appended:
    first_seq: int
    last_seq: int
    head_hash: str


class RollAuditLog(AuditLog):
    def append_rendered(
        self,
        session: Session,
        *,
        first_seq: int,
        kind: str,
        recorded_at: dt.datetime,
        subjects: Sequence[str],
        bodies: Sequence[str],
    ) -> Appended | None:
        """Append ``bodies`` (canonical bodies rendered for seqs ``first_seq``...) in the
        caller's write transaction; None, having written nothing, if the head has moved."""
        if not bodies or len(subjects) != len(bodies):
            raise ValueError("one subject per body, at least one body")
        if not kind:
            raise ValueError("kind must not be empty")
        for subject in subjects:
            if not _PSEUDONYM.fullmatch(subject):
                # Refuse anything that is not a pseudonym: a raw IIN must never reach the log.
                raise ValueError("subject must be a v1 pseudonym")
        head_seq, head_hash = self._head(session)
        if head_seq + 1 != first_seq:
            return None
        connection = session.connection()
        merkle_range = self._compact_range(connection, head_seq, head_hash)
        subtrees: list[Subtree] = []
        recorded_utc = recorded_at.astimezone(dt.UTC)
        sha256 = hashlib.sha256
        previous = bytes.fromhex(head_hash)
        previous_hex = head_hash
        seq = first_seq
        rows: list[tuple[Any, ...]] = []
        due: list[tuple[int, str, bytes]] = []
        every = self._checkpoint_every
        for subject, body in zip(subjects, bodies, strict=True):
            if f'"seq":{seq},' not in body:
                raise ValueError("a rendered body does not claim the seq it would take")
            digest = sha256(previous + body.encode("utf-8")).digest()
            digest_hex = digest.hex()
            rows.append((seq, previous_hex, digest_hex, kind, subject, body, recorded_utc))
            subtrees += merkle_range.append(leaf_hash(body.encode("utf-8")))
            if seq % every == 0:
                due.append((seq, digest_hex, merkle_range.root()))
            previous, previous_hex = digest, digest_hex
            seq += 1
        self._insert(session, rows)
        self._store_tree(connection, seq - 1, previous_hex, merkle_range, subtrees)
        for size, digest_hex, root in due:
            self._write_checkpoint(session, size=size, head_hash=digest_hex, root=root)
        return Appended(first_seq=first_seq, last_seq=seq - 1, head_hash=previous_hex)

    @staticmethod
    def _insert(session: Session, rows: list[tuple[Any, ...]]) -> None:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            driver = connection.connection.driver_connection
            assert driver is not None
            with driver.cursor() as cursor, cursor.copy(_COPY_ENTRIES) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        columns = ("seq", "prev_hash", "entry_hash", "kind", "subject", "body", "recorded_at")
        connection.execute(
            insert(AuditEntryRow), [dict(zip(columns, row, strict=True)) for row in rows]
        )
