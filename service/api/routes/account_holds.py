"""Holds on accounts that looked up more voters than their role allows (SPEC §12): the
operators see them and lift them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from service.api.bodies import JsonBodyRoute
from service.api.deps import AccountHoldsDep, OperatorDep, RequestIdDep
from service.api.presenters import receipt_out
from service.api.schemas import AccountHoldList, AccountHoldOut, ReasonRequest
from service.usecases.account_holds import HoldView

router = APIRouter(prefix="/v1/account-holds", tags=["account-holds"], route_class=JsonBodyRoute)

HoldId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9a-f-]+$")]


def account_hold_out(view: HoldView) -> AccountHoldOut:
    return AccountHoldOut(
        id=view.id,
        account=view.account,
        role=view.role,
        placed_at=view.placed_at,
        distinct_voters=view.distinct_voters,
        threshold=view.threshold,
        status="held" if view.lifted_at is None else "lifted",
        lifted_by=view.lifted_by,
        lifted_at=view.lifted_at,
        lift_reason=view.lift_reason,
        audit=receipt_out(view.receipt) if view.receipt else None,
    )


@router.get("", response_model=AccountHoldList)
async def list_account_holds(_caller: OperatorDep, holds: AccountHoldsDep) -> AccountHoldList:
    return AccountHoldList(items=[account_hold_out(view) for view in await holds.active()])


@router.post("/{hold_id}/lift", response_model=AccountHoldOut)
async def lift_account_hold(
    hold_id: HoldId,
    body: ReasonRequest,
    caller: OperatorDep,
    holds: AccountHoldsDep,
    request_id: RequestIdDep,
) -> AccountHoldOut:
    view = await holds.lift(hold_id, reason=body.reason, caller=caller, request_id=request_id)
    return account_hold_out(view)
