"""Manual overrides (SPEC §7): statuses derived from immutable steps, and maker-checker."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from enum import StrEnum
from zoneinfo import ZoneInfo

from service.domain.model import Election

# Expiry dates are calendar days in Kazakhstan; the whole country has kept UTC+5 since 2024.
KAZAKHSTAN_ZONE = ZoneInfo("Asia/Almaty")


class OverrideStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REFUSED = "refused"
    REVOKED = "revoked"
    EXPIRED = "expired"


class OverrideAction(StrEnum):
    APPROVE = "approve"
    REFUSE = "refuse"
    REVOKE = "revoke"


class OverrideReason(StrEnum):
    """The closed list of grounds an operator may cite; free text and a document go along."""

    COURT_DECISION = "COURT_DECISION"
    REGISTRY_DATA_ERROR = "REGISTRY_DATA_ERROR"
    ADDRESS_NOT_COVERED = "ADDRESS_NOT_COVERED"
    SPECIAL_INSTITUTION = "SPECIAL_INSTITUTION"
    COMMISSION_RESOLUTION = "COMMISSION_RESOLUTION"


class OverrideRefusal(StrEnum):
    SELF_APPROVAL_FORBIDDEN = "SELF_APPROVAL_FORBIDDEN"
    OVERRIDE_NOT_PENDING = "OVERRIDE_NOT_PENDING"
    OVERRIDE_NOT_ACTIVE = "OVERRIDE_NOT_ACTIVE"
    OVERRIDE_EXPIRED = "OVERRIDE_EXPIRED"


def default_expiry(election: Election) -> dt.date:
    return election.voting_day + dt.timedelta(days=1)


def kazakhstan_date(now: dt.datetime) -> dt.date:
    return now.astimezone(KAZAKHSTAN_ZONE).date()


def override_status(
    actions: Collection[OverrideAction], *, expires_on: dt.date, today: dt.date
) -> OverrideStatus:
    if OverrideAction.REVOKE in actions:
        return OverrideStatus.REVOKED
    if OverrideAction.REFUSE in actions:
        return OverrideStatus.REFUSED
    if today > expires_on:
        return OverrideStatus.EXPIRED
    if OverrideAction.APPROVE in actions:
        return OverrideStatus.ACTIVE
    return OverrideStatus.PENDING


def refusal_of(
    action: OverrideAction, *, status: OverrideStatus, created_by: str, actor: str
) -> OverrideRefusal | None:
    """Why ``actor`` may not take ``action`` now, or None if they may."""
    if status is OverrideStatus.EXPIRED:
        return OverrideRefusal.OVERRIDE_EXPIRED
    if action is OverrideAction.REVOKE:
        return None if status is OverrideStatus.ACTIVE else OverrideRefusal.OVERRIDE_NOT_ACTIVE
    if status is not OverrideStatus.PENDING:
        return OverrideRefusal.OVERRIDE_NOT_PENDING
    # The checker must be a different person from the maker; refusing one's own is allowed.
    if action is OverrideAction.APPROVE and actor == created_by:
        return OverrideRefusal.SELF_APPROVAL_FORBIDDEN
    return None
