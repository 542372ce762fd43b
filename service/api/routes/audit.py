"""Reading the audit log (auditors and accredited observers)."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Query

from service.api.bodies import JsonBodyRoute
from service.api.deps import AuditorDep, ServicesDep
from service.api.schemas import AuditEntryList, AuditEntryOut, CheckpointOut
from service.audit.chain import ChainEntry, Checkpoint
from service.db.engine import read_session
from service.errors import NotFound

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=JsonBodyRoute)


@router.get("/entries", response_model=AuditEntryList)
async def list_entries(
    _caller: AuditorDep,
    services: ServicesDep,
    after_seq: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditEntryList:
    def read() -> list[ChainEntry]:
        with read_session(services.database) as session:
            return services.audit_log.entries(session, after_seq=after_seq, limit=limit)

    entries = await anyio.to_thread.run_sync(read)
    return AuditEntryList(
        items=[
            AuditEntryOut(seq=e.seq, prev_hash=e.prev_hash, entry_hash=e.entry_hash, body=e.body)
            for e in entries
        ],
        next_after_seq=entries[-1].seq if len(entries) == limit else None,
    )


@router.get("/checkpoint", response_model=CheckpointOut)
async def latest_checkpoint(_caller: AuditorDep, services: ServicesDep) -> CheckpointOut:
    def read() -> Checkpoint | None:
        with read_session(services.database) as session:
            return services.audit_log.latest_checkpoint(session)

    checkpoint = await anyio.to_thread.run_sync(read)
    if checkpoint is None:
        raise NotFound
    return CheckpointOut(
        size=checkpoint.size,
        head_hash=checkpoint.head_hash,
        signed_at=checkpoint.signed_at,
        key_id=checkpoint.key_id,
        signature=checkpoint.signature.hex(),
        public_key=services.checkpoint_public_key,
    )
