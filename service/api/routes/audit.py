"""Reading the audit log (auditors and accredited observers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.bodies import JsonBodyRoute
from service.api.deps import (
    AuditorDep,
    AuditReadingDep,
    AuditWitnessingDep,
    CheckpointKeyDep,
    LogCheckerDep,
    WitnessDep,
)
from service.api.schemas import (
    AuditEntryList,
    AuditEntryOut,
    CheckpointOut,
    ConsistencyProofOut,
    CosignatureOut,
    CosignatureRequest,
    InclusionProofOut,
)
from service.errors import NotFound
from service.usecases.context import actor_of

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=JsonBodyRoute)
# Seqs and tree sizes: what a JSON number holds exactly, as for after_seq.
TreeSize = Annotated[int, Query(ge=1, le=2**53)]


@router.get("/entries", response_model=AuditEntryList)
async def list_entries(
    _caller: AuditorDep,
    audit_reading: AuditReadingDep,
    after_seq: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditEntryList:
    entries = await audit_reading.entries(after_seq=after_seq, limit=limit)
    return AuditEntryList(
        items=[
            AuditEntryOut(seq=e.seq, prev_hash=e.prev_hash, entry_hash=e.entry_hash, body=e.body)
            for e in entries
        ],
        next_after_seq=entries[-1].seq if len(entries) == limit else None,
    )


@router.get("/checkpoint", response_model=CheckpointOut)
async def latest_checkpoint(
    _caller: LogCheckerDep,
    witnessing: AuditWitnessingDep,
    public_key: CheckpointKeyDep,
    witnessed: Annotated[bool, Query()] = False,
) -> CheckpointOut:
    """The newest checkpoint with its cosignatures; with ``witnessed=true`` the newest one
    the witness quorum cosigned (each cosignature is itself an audit entry, so the newest
    checkpoint is often one no witness has seen yet)."""
    latest = await witnessing.latest(witnessed=witnessed)
    if latest is None:
        raise NotFound
    checkpoint = latest.checkpoint
    return CheckpointOut(
        size=checkpoint.size,
        head_hash=checkpoint.head_hash,
        signed_at=checkpoint.signed_at,
        key_id=checkpoint.key_id,
        signature=checkpoint.signature.hex(),
        public_key=public_key,
        root_hash=checkpoint.root_hash,
        note=latest.note,
        cosigned_by=list(latest.cosigned_by),
        witnessed=latest.witnessed,
    )


@router.post("/cosignatures", response_model=CosignatureOut)
async def add_cosignature(
    body: CosignatureRequest, caller: WitnessDep, witnessing: AuditWitnessingDep
) -> CosignatureOut:
    """Keep the registered witnesses' signature lines of a checkpoint note the service signed
    (``voterctl witness cosign`` posts here after checking consistency)."""
    done = await witnessing.cosign(body.note, actor=actor_of(caller))
    return CosignatureOut(
        size=done.size,
        cosigned_by=list(done.cosigned_by),
        added=list(done.added),
        witnessed=done.witnessed,
    )


@router.get("/proofs/inclusion", response_model=InclusionProofOut)
async def inclusion_proof(
    _caller: LogCheckerDep, audit_reading: AuditReadingDep, seq: TreeSize, tree_size: TreeSize
) -> InclusionProofOut:
    """RFC 9162 PATH of entry ``seq`` (leaf ``seq - 1``) in the tree of ``tree_size`` leaves,
    with the entry itself, so that a receipt is checked offline against a signed note."""
    proof, note = await audit_reading.inclusion(seq=seq, tree_size=tree_size)
    return InclusionProofOut(
        seq=proof.entry.seq,
        leaf_index=proof.leaf_index,
        tree_size=proof.tree_size,
        entry_hash=proof.entry.entry_hash,
        prev_hash=proof.entry.prev_hash,
        body=proof.entry.body,
        audit_path=[node.hex() for node in proof.path],
        checkpoint=note,
    )


@router.get("/proofs/consistency", response_model=ConsistencyProofOut)
async def consistency_proof(
    _caller: LogCheckerDep, audit_reading: AuditReadingDep, first: TreeSize, second: TreeSize
) -> ConsistencyProofOut:
    """RFC 9162 PROOF that the tree of ``second`` leaves extends that of ``first``."""
    proof = await audit_reading.consistency(first=first, second=second)
    return ConsistencyProofOut(
        first=first,
        second=second,
        proof=[node.hex() for node in proof.path],
        first_checkpoint=proof.first_note,
        second_checkpoint=proof.second_note,
    )
