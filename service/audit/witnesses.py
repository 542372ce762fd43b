"""Witnesses of the audit log (SPEC §17): observers' registered keys and their cosignatures.

An operator registers an observer's C2SP vkey (``voterctl witness register``). The observer's
cosigner (``voterctl witness cosign``) fetches the newest checkpoint note, checks that it
extends the last one it cosigned (``witness.decide``), adds its signature line and posts the
note back. The service keeps a line only if it is by a registered key, verifies over the very
text of a checkpoint note the service signed, and was not kept before; each kept cosignature
is audited. A checkpoint is **witnessed** once ``quorum`` registered witnesses have cosigned
it. Runs in the caller's write transaction, beside the chain (``log.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from service.audit.chain import Checkpoint
from service.audit.log import AuditLog, AuditReader
from service.audit.note import Checkpoint as TreeHead
from service.audit.note import (
    MalformedNote,
    Note,
    NoteSignature,
    VerifierKey,
    parse_note,
)
from service.audit.tables import AuditCheckpointRow, AuditCosignatureRow, AuditWitnessRow
from service.errors import ErrorCode, InvalidInput, NotFound, ServiceError

KIND_REGISTERED = "audit.witness.register"
KIND_COSIGNED = "audit.cosign"
_MAX_SEQ = 2**63 - 1  # a signed 64-bit integer: audit seqs and tree sizes on both databases


class CosignatureRefused(ServiceError):
    code = ErrorCode.COSIGNATURE_INVALID


class WitnessAlreadyRegistered(ValueError):
    pass


@dataclass(frozen=True)
class Cosigned:
    size: int
    cosigned_by: tuple[str, ...]  # every witness that has cosigned this size, by name
    added: tuple[str, ...]  # those this submission added
    witnessed: bool


def register_witness(
    session: Session, audit_log: AuditLog, *, vkey: str, by: str, now: dt.datetime
) -> VerifierKey:
    """Register an observer's vkey under its name; refused for a name already registered
    (a key is never replaced: a new key takes a new name)."""
    key = VerifierKey.parse(vkey.strip())
    if session.get(AuditWitnessRow, key.name) is not None:
        raise WitnessAlreadyRegistered(f"a witness named {key.name} is already registered")
    receipt = audit_log.append(
        session,
        kind=KIND_REGISTERED,
        subject=None,
        payload={"witness": key.name, "key_id": f"{key.key_id:08x}", "by": by},
        recorded_at=now,
    )
    session.add(
        AuditWitnessRow(
            name=key.name,
            vkey=str(key),
            registered_by=by,
            registered_at=now,
            audit_seq=receipt.seq,
        )
    )
    return key


def registered_witnesses(session: Session) -> list[VerifierKey]:
    rows = session.exec(select(AuditWitnessRow).order_by(col(AuditWitnessRow.name)))
    return [VerifierKey.parse(row.vkey) for row in rows]


def cosignature_lines(session: Session, size: int) -> list[tuple[str, str]]:
    """(witness name, signature line) of each cosignature kept for ``size``, by name."""
    rows = session.exec(
        select(AuditCosignatureRow)
        .where(AuditCosignatureRow.size == size)
        .order_by(col(AuditCosignatureRow.witness))
    )
    return [(row.witness, row.line) for row in rows]


def with_cosignatures(note: str, lines: Sequence[str]) -> str:
    """The service's note with the kept cosignature lines after its own signature."""
    return note + "".join(lines)


def newest_witnessed(session: Session, *, quorum: int) -> Checkpoint | None:
    """The newest checkpoint that ``quorum`` registered witnesses cosigned, if any."""
    if quorum < 1:
        return None
    size = col(AuditCosignatureRow.size)
    cosigned = select(size).group_by(size).having(func.count() >= quorum)
    newest = session.exec(
        select(func.max(AuditCheckpointRow.size)).where(col(AuditCheckpointRow.size).in_(cosigned))
    ).one()
    return AuditReader().checkpoint_at(session, int(newest)) if newest is not None else None


def cosign(
    session: Session,
    audit_log: AuditLog,
    *,
    note: str,
    actor: dict[str, Any],
    quorum: int,
    now: dt.datetime,
) -> Cosigned:
    """Keep the registered witnesses' signature lines of ``note``, a checkpoint note the
    service signed, and audit them. Refused whole if any registered witness's line does not
    verify, if none is by a registered witness, or if the service signed no such note."""
    try:
        parsed: Note = parse_note(note)
        head = TreeHead.parse(parsed.text)
    except MalformedNote as exc:
        raise InvalidInput(errors=[{"field": "body.note", "type": "malformed_note"}]) from exc
    # A size past any seq the database can hold names no checkpoint (and must not reach it).
    stored = session.get(AuditCheckpointRow, head.size) if head.size <= _MAX_SEQ else None
    if stored is None or stored.note is None or parse_note(stored.note).text != parsed.text:
        # Also a note of another log, or one for this size with another root: no such head.
        raise NotFound(ErrorCode.CHECKPOINT_NOT_FOUND)
    known = {(key.name, key.key_id): key for key in registered_witnesses(session)}
    message = parsed.text.encode()
    theirs: list[NoteSignature] = []
    for signature in parsed.signatures:
        key = known.get((signature.name, signature.key_id))
        if key is None:
            continue  # the service's own line, or a witness not registered here
        if not key.verify(message, signature.signature):
            raise CosignatureRefused(ErrorCode.COSIGNATURE_INVALID)
        theirs.append(signature)
    if not theirs:
        raise CosignatureRefused(ErrorCode.WITNESS_NOT_REGISTERED)
    kept = dict(cosignature_lines(session, head.size))
    added = [s for s in theirs if s.name not in kept]
    for signature in added:
        session.add(
            AuditCosignatureRow(
                size=head.size, witness=signature.name, line=signature.line(), cosigned_at=now
            )
        )
    if added:
        audit_log.append(
            session,
            kind=KIND_COSIGNED,
            subject=None,
            payload={
                "size": head.size,
                "witnesses": [s.name for s in added],
                "actor": actor,
            },
            recorded_at=now,
        )
    names = tuple(sorted({*kept, *(s.name for s in added)}))
    return Cosigned(
        size=head.size,
        cosigned_by=names,
        added=tuple(s.name for s in added),
        witnessed=quorum >= 1 and len(names) >= quorum,
    )
