"""Holds on accounts that looked up more voters than their role allows (SPEC §12).

A hold is placed when an account crosses its role's distinct-voter threshold
(``service.ratelimit.BulkLookupGuard`` decides when) and lifted by an operator who is not
the held account (``service.domain.limits.lift_refusal``). Both are audited in the
transaction that records them. Every replica refuses a held account's look-ups: the one
that placed or lifted a hold knows at once (``HeldAccounts``), the others at their next
refresh from the database.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from typing import Protocol

from service.clock import Clock
from service.domain.caller import Caller
from service.domain.limits import lift_refusal
from service.errors import ErrorCode, NotFound, ServiceError
from service.logs import get_logger
from service.usecases.context import actor_of
from service.usecases.ports import (
    AccountHoldRecord,
    DuplicateRecord,
    Receipt,
    Storage,
    UnitOfWork,
)
from service.usecases.undo import once_more_if_overtaken

KIND_PLACED = "account_hold.place"
KIND_LIFTED = "account_hold.lift"
WINDOW_SECONDS = 3600

_security_log = get_logger("service.security")


class HoldRefused(ServiceError):
    """The lift rule refused; ``code`` says why."""

    code = ErrorCode.HOLD_NOT_ACTIVE


class HeldAccounts(Protocol):
    """Which accounts are held, as this process knows it; told at once of what it changes."""

    async def is_held(self, account: str) -> bool: ...
    def placed(self, account: str) -> None: ...
    def lifted(self, account: str) -> None: ...


@dataclass(frozen=True)
class HoldView:
    id: str
    account: str
    role: str
    placed_at: dt.datetime
    distinct_voters: int
    threshold: int
    lifted_by: str | None
    lifted_at: dt.datetime | None
    lift_reason: str | None
    receipt: Receipt | None = None


def _view(hold: AccountHoldRecord, receipt: Receipt | None = None) -> HoldView:
    return HoldView(
        id=hold.id,
        account=hold.account,
        role=hold.role,
        placed_at=hold.placed_at,
        distinct_voters=hold.distinct_voters,
        threshold=hold.threshold,
        lifted_by=hold.lifted_by,
        lifted_at=hold.lifted_at,
        lift_reason=hold.lift_reason,
        receipt=receipt,
    )


class AccountHoldService:
    def __init__(self, *, storage: Storage, held: HeldAccounts, clock: Clock) -> None:
        self._storage = storage
        self._held = held
        self._clock = clock

    async def is_held(self, account: str) -> bool:
        return await self._held.is_held(account)

    async def place(
        self, *, account: str, role: str, distinct_voters: int, threshold: int
    ) -> HoldView | None:
        """Hold ``account``; None if it already was (another replica placed it first)."""
        # Known here before the commit: the account's look-ups in flight meanwhile are refused.
        self._held.placed(account)
        now = self._clock.now()

        def record(uow: UnitOfWork) -> tuple[AccountHoldRecord, Receipt]:
            hold = AccountHoldRecord(
                id=str(uuid.uuid4()),
                account=account,
                role=role,
                placed_at=now,
                distinct_voters=distinct_voters,
                threshold=threshold,
                audit_seq=0,
            )
            receipt = uow.audit.append(
                kind=KIND_PLACED,
                subject=None,
                payload={
                    "hold_id": hold.id,
                    "account": {"sub": account, "role": role},
                    "distinct_voters": distinct_voters,
                    "threshold": threshold,
                    "window_seconds": WINDOW_SECONDS,
                },
                recorded_at=now,
            )
            hold = replace(hold, audit_seq=receipt.seq)
            uow.account_holds.add(hold)
            return hold, receipt

        try:
            hold, receipt = await self._storage.transact(record)
        except DuplicateRecord:
            return None
        except BaseException:
            # Not recorded: a hold no operator can see or lift must not stay in memory.
            self._held.lifted(account)
            raise
        _security_log.warning(
            "security.account_held", sub=account, role=role, hold_id=hold.id, audit_seq=receipt.seq
        )
        return _view(hold, receipt)

    async def active(self) -> list[HoldView]:
        holds = await self._storage.read(lambda uow: uow.account_holds.active())
        return [_view(hold) for hold in holds]

    async def lift(self, hold_id: str, *, reason: str, caller: Caller, request_id: str) -> HoldView:
        now = self._clock.now()

        def record(uow: UnitOfWork) -> tuple[AccountHoldRecord, Receipt]:
            hold = uow.account_holds.get(hold_id)
            if hold is None:
                raise NotFound(ErrorCode.RESOURCE_NOT_FOUND)
            refusal = lift_refusal(
                held_account=hold.account, is_active=hold.is_active, actor=caller.subject
            )
            if refusal is not None:
                raise HoldRefused(ErrorCode(refusal.value), hold_id=hold.id)
            receipt = uow.audit.append(
                kind=KIND_LIFTED,
                subject=None,
                payload={
                    "hold_id": hold.id,
                    "account": {"sub": hold.account, "role": hold.role},
                    "reason": reason,
                    "actor": actor_of(caller),
                    "request_id": request_id,
                },
                recorded_at=now,
            )
            lifted = uow.account_holds.lift(
                hold.id, by=caller.subject, at=now, reason=reason, audit_seq=receipt.seq
            )
            return lifted, receipt

        lifted, receipt = await once_more_if_overtaken(lambda: self._storage.transact(record))
        self._held.lifted(lifted.account)
        _security_log.info(
            "security.account_hold_lifted", sub=lifted.account, by=caller.subject, hold_id=lifted.id
        )
        return _view(lifted, receipt)
