"""Loading, once per run, the overrides and day registrations that come before registrations.

A single check reads them voter by voter; a compile of twelve million voters reads the few
hundred active overrides and the day registrations of the election up front.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlmodel import Session, col, select

from service.db.repository import as_utc
from service.db.tables import (
    ActiveOverrideRow,
    DayRegistrationRow,
    OverrideActionRow,
    OverrideRow,
)
from service.domain.model import ActiveDayRegistration, ActiveOverride, OverrideKind
from service.domain.overrides import (
    OverrideAction,
    OverrideStatus,
    kazakhstan_date,
    override_status,
)
from service.roll.model import Standing


def load_standing(session: Session, *, election_id: str, now: dt.datetime) -> Standing:
    """Active overrides and active day registrations of one election, by voter pseudonym.

    The same rules as ``load_active_override`` and ``active_day_registration``: an override
    counts while approved, neither refused nor revoked, and not expired; a day registration
    while not cancelled and not lapsed.
    """
    guards = session.exec(
        select(ActiveOverrideRow).where(ActiveOverrideRow.election_id == election_id)
    ).all()
    ids = [guard.override_id for guard in guards]
    rows = {
        row.id: row
        for row in session.exec(select(OverrideRow).where(col(OverrideRow.id).in_(ids))).all()
    }
    actions: defaultdict[str, set[OverrideAction]] = defaultdict(set)
    for action in session.exec(
        select(OverrideActionRow).where(col(OverrideActionRow.override_id).in_(ids))
    ).all():
        actions[action.override_id].add(OverrideAction(action.action))
    today = kazakhstan_date(now)
    overrides: dict[str, ActiveOverride] = {}
    for guard in guards:
        row = rows.get(guard.override_id)
        if row is None:
            continue
        status = override_status(actions[row.id], expires_on=row.expires_on, today=today)
        if status is OverrideStatus.ACTIVE:
            overrides[guard.subject] = ActiveOverride(
                row.id, OverrideKind(row.kind), row.precinct_id
            )

    day_registrations = {
        row.subject: ActiveDayRegistration(row.id, row.precinct_id)
        for row in session.exec(
            select(DayRegistrationRow).where(
                DayRegistrationRow.election_id == election_id,
                col(DayRegistrationRow.active_key).is_not(None),
            )
        ).all()
        if as_utc(row.lapses_at) > now
    }
    return Standing(overrides=overrides, day_registrations=day_registrations)
