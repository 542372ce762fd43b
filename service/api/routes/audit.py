"""Reading the audit log (auditors and accredited observers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.bodies import JsonBodyRoute
from service.api.deps import AuditorDep, AuditReadingDep, CheckpointKeyDep
from service.api.schemas import AuditEntryList, AuditEntryOut, CheckpointOut
from service.errors import NotFound

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=JsonBodyRoute)


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
    _caller: AuditorDep, audit_reading: AuditReadingDep, public_key: CheckpointKeyDep
) -> CheckpointOut:
    checkpoint = await audit_reading.latest_checkpoint()
    if checkpoint is None:
        raise NotFound
    return CheckpointOut(
        size=checkpoint.size,
        head_hash=checkpoint.head_hash,
        signed_at=checkpoint.signed_at,
        key_id=checkpoint.key_id,
        signature=checkpoint.signature.hex(),
        public_key=public_key,
    )
