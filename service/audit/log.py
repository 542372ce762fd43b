"""Appending to and reading the audit log through the caller's session.

``append`` runs inside the caller's write transaction, so a decision and its audit entry commit
or roll back together: there is no unaudited decision and no orphan entry. Seqs are assigned as
head + 1; the chain stays linear because only one writer at a time can read the head and insert
after it. On SQLite the writer engine's ``BEGIN IMMEDIATE`` gives that; on PostgreSQL the lock
is a transaction-level advisory lock taken in ``_head``. A rolled-back transaction takes its
seqs with it, so there are no gaps.

Subjects are pseudonyms (``pseudonymise``), never raw IINs; the payload is stored verbatim, so
callers must keep names, addresses and IINs out of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, text
from sqlmodel import Session, col, select

from service.audit import tree
from service.audit.chain import (
    GENESIS_HASH,
    ChainEntry,
    Checkpoint,
    canonical_body,
    checkpoint_message,
    entry_hash,
    format_instant,
)
from service.audit.merkle import CompactRange, Subtree, leaf_hash, leaf_index
from service.audit.note import DEFAULT_ORIGIN, NoteSigner, sign_checkpoint
from service.audit.note import Checkpoint as TreeHead
from service.audit.signing import CheckpointSigner
from service.audit.tables import AuditCheckpointRow, AuditEntryRow
from service.clock import Clock, SystemClock
from service.db.engine import driver_value, insert_rows
from service.db.repository import as_utc
from service.usecases.ports import Receipt

DEFAULT_CHECKPOINT_EVERY = 1000
DEFAULT_CHECKPOINT_MAX_AGE = timedelta(seconds=60)
ITER_BATCH_SIZE = 1000
_PSEUDONYM = re.compile(r"v1:[0-9a-f]{64}")
# Any fixed 64-bit number no other part of the system uses; "voteraud" in ASCII.
CHAIN_LOCK_KEY = 0x766F746572617564
# Types for which orjson's sorted output is byte for byte ``chain.canonical_body``'s json.dumps
# (floats are not: 1e-07 against 1e-7; neither are NaN, datetimes, enums or big integers).
_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})
_HEAD = (
    select(AuditEntryRow.seq, AuditEntryRow.entry_hash)
    .order_by(col(AuditEntryRow.seq).desc())
    .limit(1)
)
_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_ENTRIES = AuditEntryRow.metadata.tables["audit_entries"]
_ENTRY_COLUMNS = ("seq", "prev_hash", "entry_hash", "kind", "subject", "body", "recorded_at")
_INSERT_CHECKPOINT = insert(AuditCheckpointRow)


@dataclass(frozen=True)
class NewEntry:
    """An entry to append: ``subject`` a pseudonym or None, ``payload`` no personal data."""

    kind: str
    subject: str | None
    payload: Mapping[str, Any]
    recorded_at: datetime


def _connection(on: Session | Connection) -> Connection:
    if isinstance(on, Session):
        on.flush()  # as the ORM's autoflush did before the head read: the caller's rows first
        return on.connection()
    return on


def _is_plain(value: object) -> bool:
    """Whether orjson renders ``value`` as ``chain``'s json.dumps does: str, int, bool and None
    inside lists, tuples and str-keyed dicts, exact types only (a subclass may render apart)."""
    if type(value) in _PLAIN_SCALARS:
        return True
    if isinstance(value, dict):
        if type(value) is not dict:
            return False
        for key, item in value.items():
            if type(key) is not str or (type(item) not in _PLAIN_SCALARS and not _is_plain(item)):
                return False
        return True
    if isinstance(value, list | tuple):
        if type(value) is not list and type(value) is not tuple:
            return False
        return all(type(item) in _PLAIN_SCALARS or _is_plain(item) for item in value)
    return False


def _fast_body(
    *, seq: int, kind: str, recorded_at: str, subject: str | None, payload: Mapping[str, Any]
) -> str | None:
    """``canonical_body`` (``recorded_at`` already formatted) through orjson, a tenth of
    json.dumps's CPU; None where orjson's bytes could differ from json.dumps's."""
    plain = payload if type(payload) is dict else dict(payload)
    if type(kind) is not str or not (subject is None or type(subject) is str):
        return None
    if not _is_plain(plain):
        return None
    fields = {
        "seq": seq,
        "kind": kind,
        "recorded_at": recorded_at,
        "subject": subject,
        "payload": plain,
    }
    try:
        return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:  # an integer past 64 bits: json.dumps judges it
        return None


def _to_checkpoint(row: AuditCheckpointRow) -> Checkpoint:
    try:
        signature = bytes.fromhex(row.signature)
    except (ValueError, TypeError):
        # Unreadable hex is reported by verification as a bad signature, not as a crash.
        signature = b""
    return Checkpoint(
        size=row.size,
        head_hash=row.head_hash,
        signed_at=as_utc(row.signed_at),
        key_id=row.key_id,
        signature=signature,
        root_hash=row.root_hash,
        note=row.note,
    )


@dataclass(frozen=True)
class InclusionProof:
    """What an offline verifier needs to check a receipt: the entry (its body is the leaf,
    its prev_hash lets the receipt's entry_hash be recomputed) and the audit path."""

    entry: ChainEntry
    leaf_index: int
    tree_size: int
    path: list[bytes]


class AuditReader:
    """Read-only queries over the log; needs no signing key (auditors, export, verify)."""

    def entries(self, session: Session, *, after_seq: int, limit: int) -> list[ChainEntry]:
        """Entries with seq > after_seq in seq order, at most ``limit`` of them."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        statement = (
            select(
                AuditEntryRow.seq,
                AuditEntryRow.prev_hash,
                AuditEntryRow.entry_hash,
                AuditEntryRow.body,
            )
            .where(col(AuditEntryRow.seq) > after_seq)
            .order_by(col(AuditEntryRow.seq))
            .limit(limit)
        )
        return [
            ChainEntry(seq=seq, prev_hash=prev, entry_hash=digest, body=body)
            for seq, prev, digest, body in session.exec(statement)
        ]

    def iter_entries(
        self, session: Session, *, batch_size: int = ITER_BATCH_SIZE
    ) -> Iterator[ChainEntry]:
        """Every entry in seq order, fetched in batches so memory stays flat.

        Keyset pagination (seq > last) rather than OFFSET, so each batch is an index seek.
        Run it inside one transaction to see one consistent snapshot.
        """
        after_seq = 0
        while True:
            batch = self.entries(session, after_seq=after_seq, limit=batch_size)
            yield from batch
            if len(batch) < batch_size:
                return
            after_seq = batch[-1].seq

    def checkpoints(self, session: Session) -> list[Checkpoint]:
        statement = select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.size))
        return [_to_checkpoint(row) for row in session.exec(statement)]

    def chain_length(self, session: Session) -> int:
        """The head seq (0 for an empty log): one index seek on SQLite and PostgreSQL alike."""
        length = session.exec(select(func.max(AuditEntryRow.seq))).one()
        return int(length or 0)

    def latest_checkpoint(self, session: Session) -> Checkpoint | None:
        statement = (
            select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.size).desc()).limit(1)
        )
        row = session.exec(statement).first()
        return _to_checkpoint(row) if row is not None else None

    def checkpoint_at(self, session: Session, size: int) -> Checkpoint | None:
        row = session.get(AuditCheckpointRow, size)
        return _to_checkpoint(row) if row is not None else None

    def tree_root(self, session: Session | Connection, size: int) -> bytes:
        """The stored tree's root at ``size`` (at most the log's length): O(log n) rows."""
        return tree.root_at(_connection(session), size)

    def stored_subtrees(
        self, session: Session, ranges: Sequence[tuple[int, int, int]]
    ) -> dict[tuple[int, int], bytes]:
        """The stored subtrees in each (level, first node, last node) range."""
        return tree.read_ranges(_connection(session), ranges)

    def inclusion(self, session: Session, *, seq: int, tree_size: int) -> InclusionProof | None:
        """The proof that entry ``seq`` is leaf ``seq - 1`` of the tree of ``tree_size``
        leaves; None when the log holds no such entry. ValueError unless 1 <= seq <=
        tree_size; the caller checks tree_size against the log's length."""
        index = leaf_index(seq)
        if seq > tree_size:
            raise ValueError("seq lies beyond tree_size")
        found = self.entries(session, after_seq=seq - 1, limit=1)
        if not found or found[0].seq != seq:
            return None
        entry = found[0]
        path = tree.inclusion_proof(_connection(session), index=index, tree_size=tree_size)
        return InclusionProof(entry=entry, leaf_index=index, tree_size=tree_size, path=path)

    def consistency(self, session: Session, *, first: int, second: int) -> list[bytes]:
        """PROOF(first, second): ValueError unless 0 < first <= second."""
        return tree.consistency_proof(_connection(session), first=first, second=second)


class AuditLog(AuditReader):
    """Appends entries and signs checkpoints, by count and by real time.

    A checkpoint's ``signed_at`` is the real time of signing, read from ``wall_clock``, never
    the service clock an entry's ``recorded_at`` comes from: that one may stand still
    (VOTER_CLOCK_FIXED), and a checkpoint that always looks fresh is never renewed. The
    signature covers ``signed_at`` as stored, so checkpoints signed either way verify alike.
    """

    def __init__(
        self,
        signer: CheckpointSigner,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoint_max_age: timedelta = DEFAULT_CHECKPOINT_MAX_AGE,
        wall_clock: Clock | None = None,
        origin: str = DEFAULT_ORIGIN,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        if checkpoint_max_age <= timedelta(0):
            raise ValueError("checkpoint_max_age must be positive")
        self._signer = signer
        # The same key signs the tlog-checkpoint note, under the log's origin as key name.
        self._note_signer = NoteSigner(origin, signer.private_key)
        self.origin = origin
        self._checkpoint_every = checkpoint_every
        self._checkpoint_max_age = checkpoint_max_age
        self._wall_clock = wall_clock or SystemClock()
        self._last_range: tuple[int, str, CompactRange] | None = None

    def append(
        self,
        session: Session,
        *,
        kind: str,
        subject: str | None,
        payload: Mapping[str, Any],
        recorded_at: datetime,
    ) -> Receipt:
        """Add one entry in the caller's write transaction; it commits with the caller's rows.

        ``subject`` must be a pseudonym from ``pseudonymise`` (or None for entries about no
        person). Signs a checkpoint in the same transaction every ``checkpoint_every`` entries.
        """
        [receipt] = self.append_many(
            session,
            [NewEntry(kind=kind, subject=subject, payload=payload, recorded_at=recorded_at)],
        )
        return receipt

    def append_many(
        self, session: Session | Connection, entries: Sequence[NewEntry]
    ) -> list[Receipt]:
        """Add ``entries`` in order, in the caller's write transaction, with one head read.

        The group commit and the voter-list compiler append hundreds of entries per
        transaction: one INSERT with many rows instead of a flush per entry. Every entry is
        validated before anything is written, so a bad one leaves the transaction untouched.
        ``session`` may be a Core connection in a transaction (the group commit's).
        """
        for entry in entries:
            if not entry.kind:
                raise ValueError("kind must not be empty")
            if entry.subject is not None and not _PSEUDONYM.fullmatch(entry.subject):
                # Refuse anything that is not a pseudonym: a raw IIN must never reach the log.
                raise ValueError("subject must be a v1 pseudonym")
        if not entries:
            return []
        connection = _connection(session)
        seq, digest = self._head(connection)
        merkle_range = self._compact_range(connection, seq, digest)
        every = self._checkpoint_every
        rows: list[tuple[Any, ...]] = []
        subtrees: list[Subtree] = []
        receipts: list[Receipt] = []
        due: list[tuple[int, str, bytes]] = []
        # A group commit's entries share one instant: format it once, not once per entry.
        instant: datetime | None = None
        instant_text = ""
        stored_instant: Any = None
        for entry in entries:
            if entry.recorded_at is not instant:
                instant = entry.recorded_at
                instant_text = format_instant(instant)
                stored_instant = driver_value(
                    connection, _ENTRIES.c.recorded_at, instant.astimezone(UTC)
                )
            prev_hash, seq = digest, seq + 1
            body = _fast_body(
                seq=seq,
                kind=entry.kind,
                recorded_at=instant_text,
                subject=entry.subject,
                payload=entry.payload,
            ) or canonical_body(
                seq=seq,
                kind=entry.kind,
                recorded_at=entry.recorded_at,
                subject=entry.subject,
                payload=entry.payload,
            )
            digest = entry_hash(prev_hash, body)
            rows.append((seq, prev_hash, digest, entry.kind, entry.subject, body, stored_instant))
            subtrees += merkle_range.append(leaf_hash(body.encode("utf-8")))
            receipts.append(Receipt(seq=seq, entry_hash=digest))
            if seq % every == 0:
                due.append((seq, digest, merkle_range.root()))
        # Executed now: the next head read in this transaction sees these rows.
        insert_rows(connection, _ENTRIES, _ENTRY_COLUMNS, rows)
        self._store_tree(connection, seq, digest, merkle_range, subtrees)
        for size, head_hash, root in due:
            self._write_checkpoint(connection, size=size, head_hash=head_hash, root=root)
        return receipts

    def checkpoint_if_due(
        self, session: Session, *, ahead: timedelta = timedelta(0)
    ) -> Checkpoint | None:
        """Sign the current head if it is uncovered and the newest checkpoint is too old.

        Too old by real time: at least ``checkpoint_max_age`` less ``ahead`` (a caller polling
        every ``ahead`` seconds signs before the age is exceeded, not up to a poll after). A
        newest checkpoint dated further in the future than the maximum age (signed by a fixed
        clock, before signing took real time) says nothing of its age and is renewed too.

        Every replica and worker may call this: the head read takes the chain lock, so calls
        queue, and each sees the checkpoint its predecessor committed and signs nothing twice.
        """
        head_seq, head_hash = self._head(session)
        if head_seq == 0:
            return None
        latest = self.latest_checkpoint(session)
        if latest is not None:
            if latest.size >= head_seq:
                return None
            age = self._wall_clock.now() - latest.signed_at
            if -self._checkpoint_max_age <= age < self._checkpoint_max_age - ahead:
                return None
        root = self._compact_range(_connection(session), head_seq, head_hash).root()
        return self._write_checkpoint(session, size=head_seq, head_hash=head_hash, root=root)

    def _compact_range(self, connection: Connection, seq: int, digest: str) -> CompactRange:
        """The tree's compact range at the head (seq, digest): the one this log left after its
        last append when the head is still that append's, else one SELECT of the stored
        subtrees. Sound across rollbacks, processes and databases alike: an entry_hash
        commits to every body before it, and the tree is a function of the bodies."""
        last = self._last_range
        if last is not None and last[0] == seq and last[1] == digest:
            return last[2].copy()
        return tree.compact_range(connection, seq)

    def _store_tree(
        self,
        connection: Connection,
        seq: int,
        digest: str,
        merkle_range: CompactRange,
        subtrees: Sequence[Subtree],
    ) -> None:
        """Insert the subtrees this append completed, and keep its range for the next append
        (used only if that one finds this head, i.e. this transaction committed)."""
        tree.store_subtrees(connection, subtrees)
        self._last_range = (seq, digest, merkle_range)

    def lock_chain(self, session: Session | Connection) -> None:
        """Queue behind every other writer of the chain until this transaction ends.

        ``_head`` takes this lock itself; a writer that reads what its entries rest on (the
        group commit's standing reads) takes it first, so nothing another process commits to
        the chain can land between that read and its entries. On SQLite, BEGIN IMMEDIATE has
        already done the same.
        """
        connection = _connection(session)
        if connection.dialect.name == "postgresql":
            connection.execute(_CHAIN_LOCK, {"key": CHAIN_LOCK_KEY})

    def _head(self, session: Session | Connection) -> tuple[int, str]:
        """(seq, entry_hash) of the newest entry, or (0, GENESIS_HASH) for an empty log.

        The one place the head is read for writing. On PostgreSQL every replica and worker
        takes one transaction-level advisory lock first, held until its commit, so writers
        queue and each reads the head its predecessor committed: one chain, never a fork.
        (A database sequence would not do: it leaves gaps and commits out of order.) On
        SQLite the writer's BEGIN IMMEDIATE already holds the database's only write lock.
        """
        connection = _connection(session)
        self.lock_chain(connection)
        head = connection.execute(_HEAD).first()
        if head is None:
            return 0, GENESIS_HASH
        seq, digest = head
        return int(seq), str(digest)

    def _write_checkpoint(
        self, session: Session | Connection, *, size: int, head_hash: str, root: bytes
    ) -> Checkpoint:
        """Sign the head two ways: the chain's JSON message (size, head hash, time, key id)
        and the tree's C2SP tlog-checkpoint note (origin, size, root)."""
        signed_at = self._wall_clock.now().astimezone(UTC)
        key_id = self._signer.key_id
        signature = self._signer.sign(checkpoint_message(size, head_hash, signed_at, key_id))
        note = sign_checkpoint(TreeHead(self.origin, size, root), self._note_signer)
        _connection(session).execute(
            _INSERT_CHECKPOINT,
            {
                "size": size,
                "head_hash": head_hash,
                "signed_at": signed_at,
                "key_id": key_id,
                "signature": signature.hex(),
                "root_hash": root.hex(),
                "note": note,
            },
        )
        return Checkpoint(
            size=size,
            head_hash=head_hash,
            signed_at=signed_at,
            key_id=key_id,
            signature=signature,
            root_hash=root.hex(),
            note=note,
        )
