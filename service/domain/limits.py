"""How much one account may ask, by role (SPEC §12), and who may lift a hold on an account.

Two bounds per role. ``per_minute`` caps requests of any kind in a sliding minute: a burst
bound. ``hold_after_voters`` bounds the walk: an account that looks up more distinct voters
than that in an hour is held, refused every further voter look-up until an operator lifts
the hold. The numbers are chosen so that honest work never meets them:

- ``egov`` is one service account in front of the citizen portal and every public service
  centre, millions of citizens on voting day: thousands a minute. It is never held, only
  alerted on: a hold would refuse every citizen at once, and anyone on the portal could
  trigger it by asking about strangers.
- ``commission`` is a person at a polling station checking a voter's written request: a
  check, the precinct list and the calendar take well under a request every six seconds,
  and a precinct's members see tens of voters an hour, not a hundred.
- ``operator`` is a person at a TEC/CEC desk, one voter at a time through ``voterctl``,
  whose listings page a thousand records a request: half a request a second is a lot.
- ``auditor`` reads the audit log page by page and names no voter: enough for a tool
  following the log, far below the front end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from service.domain.caller import Role

NO_ROLE = "none"


@dataclass(frozen=True)
class RoleLimits:
    per_minute: int
    # Distinct voters one account may look up in an hour; past it, the alert (always) and,
    # where ``holds``, the hold.
    hold_after_voters: int
    holds: bool = True


ROLE_LIMITS: Mapping[Role, RoleLimits] = {
    Role.EGOV: RoleLimits(per_minute=6000, hold_after_voters=100_000, holds=False),
    Role.COMMISSION: RoleLimits(per_minute=10, hold_after_voters=100),
    Role.OPERATOR: RoleLimits(per_minute=30, hold_after_voters=200),
    Role.AUDITOR: RoleLimits(per_minute=120, hold_after_voters=100),
    # A cosigner polls a checkpoint and a proof a minute, and never names a voter.
    Role.WITNESS: RoleLimits(per_minute=60, hold_after_voters=1),
}


def role_limits(
    *,
    per_minute: int | None = None,
    per_minute_by_role: Mapping[Role, int] | None = None,
    hold_after_voters: int | None = None,
    hold_after_voters_by_role: Mapping[Role, int] | None = None,
) -> dict[Role, RoleLimits]:
    """The table with the settings applied: a per-role value wins over one for every role,
    which wins over the default. Whether a role is ever held is not a setting."""
    table = {}
    for role, default in ROLE_LIMITS.items():
        table[role] = replace(
            default,
            per_minute=(per_minute_by_role or {}).get(role, per_minute or default.per_minute),
            hold_after_voters=(hold_after_voters_by_role or {}).get(
                role, hold_after_voters or default.hold_after_voters
            ),
        )
    return table


def governing_role(
    roles: Iterable[Role], table: Mapping[Role, RoleLimits]
) -> tuple[str, RoleLimits]:
    """The role whose limits apply to a caller holding ``roles``: the most generous one.

    A token granting two roles gets what the larger of them could do anyway; ties go to the
    role that is never held, then by name, so the choice does not depend on order. A token
    granting none (refused by every route, but limited first) gets the least any role gets.
    """
    granted = [(table[role].per_minute, not table[role].holds, role.value) for role in roles]
    if not granted:
        return NO_ROLE, min(table.values(), key=lambda limits: limits.per_minute)
    *_, name = max(granted)
    return name, table[Role(name)]


class HoldRefusal(StrEnum):
    HOLD_NOT_ACTIVE = "HOLD_NOT_ACTIVE"
    SELF_LIFT_FORBIDDEN = "SELF_LIFT_FORBIDDEN"


def lift_refusal(*, held_account: str, is_active: bool, actor: str) -> HoldRefusal | None:
    """Why ``actor`` may not lift the hold on ``held_account``, or None if they may.

    The account that walked the population is not the one to decide it was honest work.
    """
    if not is_active:
        return HoldRefusal.HOLD_NOT_ACTIVE
    if actor == held_account:
        return HoldRefusal.SELF_LIFT_FORBIDDEN
    return None
