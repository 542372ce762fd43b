"""What every use case needs of a request: a validated IIN and who is acting."""

from __future__ import annotations

from typing import Any

from service.domain.caller import Caller
from service.domain.iin import InvalidIin, parse_iin
from service.errors import ErrorCode, InvalidInput


def validated_iin(raw: str) -> str:
    try:
        return parse_iin(raw)
    except InvalidIin as exc:
        raise InvalidInput(ErrorCode(exc.code.value)) from None


def actor_of(caller: Caller) -> dict[str, Any]:
    return {"sub": caller.subject, "roles": sorted(role.value for role in caller.roles)}
