"""What every use case needs of a request: a validated IIN and who is acting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from service.domain.caller import Caller
from service.domain.iin import InvalidIin, parse_iin
from service.domain.model import ListPlace
from service.errors import ErrorCode, InvalidInput
from service.usecases.ports import UnitOfWork


def validated_iin(raw: str) -> str:
    try:
        return parse_iin(raw)
    except InvalidIin as exc:
        raise InvalidInput(ErrorCode(exc.code.value)) from None


def holder_payload(holder: ListPlace | None) -> dict[str, str] | None:
    """The record holding a voter's place, as audited and answered (never the voter)."""
    if holder is None:
        return None
    return {"kind": holder.holder_kind.value, "id": holder.holder_id}


def actor_of(caller: Caller) -> dict[str, Any]:
    """Who acted, as the audit log keeps it: the account (for investigators), its roles and,
    when the token names one, its organisation (what the citizen's access log shows)."""
    actor: dict[str, Any] = {
        "sub": caller.subject,
        "roles": sorted(role.value for role in caller.roles),
    }
    if caller.organisation is not None:
        actor["org"] = caller.organisation
    return actor


def record_lookup(
    uow: UnitOfWork,
    *,
    kind: str,
    subject: str,
    found: Sequence[tuple[str, str]],
    caller: Caller,
    request_id: str,
    now: dt.datetime,
) -> None:
    """Audit a look-up by IIN, under the voter's pseudonym: who looked and which records (id,
    election) they were shown. The filters are left out: they are the caller's text, not the
    record's."""
    uow.audit.append(
        kind=kind,
        subject=subject,
        payload={
            "found": [{"id": record_id, "election_id": election} for record_id, election in found],
            "actor": actor_of(caller),
            "request_id": request_id,
        },
        recorded_at=now,
    )
