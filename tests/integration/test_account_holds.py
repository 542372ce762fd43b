"""The database itself keeps one hold in force per account and lets one lift end it; the
replicas' cache of held accounts reads what is in force."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from service.db import repository
from service.db.engine import open_database, write_session
from service.db.holds import HeldAccountsCache
from service.db.migrations import create_schema
from service.usecases.ports import AccountHoldRecord, DuplicateRecord

NOW = dt.datetime(2027, 3, 21, 5, 0, tzinfo=dt.UTC)


def _hold(hold_id: str, *, account: str = "walker@pec") -> AccountHoldRecord:
    return AccountHoldRecord(
        id=hold_id,
        account=account,
        role="commission",
        placed_at=NOW,
        distinct_voters=101,
        threshold=100,
        audit_seq=7,
    )


def test_a_second_hold_in_force_on_one_account_violates_a_unique_constraint(
    database_url: str,
) -> None:
    database = open_database(database_url)
    create_schema(database)
    with write_session(database) as session:
        repository.AccountHolds(session).add(_hold("h-1"))
        repository.AccountHolds(session).add(_hold("h-2", account="other@pec"))
    with pytest.raises(IntegrityError), write_session(database) as session:
        repository.AccountHolds(session).add(_hold("h-3"))
    database.dispose()


async def test_only_the_first_of_two_lifts_ends_a_hold_and_the_cache_reads_what_is_in_force(
    database_url: str,
) -> None:
    database = open_database(database_url)
    create_schema(database)
    with write_session(database) as session:
        repository.AccountHolds(session).add(_hold("h-1"))
        repository.AccountHolds(session).add(_hold("h-2", account="other@pec"))
    cache = HeldAccountsCache(database, refresh_seconds=0.0)
    held_before = [await cache.is_held("walker@pec"), await cache.is_held("nobody@pec")]

    with write_session(database) as session:
        first = repository.AccountHolds(session).lift(
            "h-1", by="operator-b@tec", at=NOW, reason="checked", audit_seq=8
        )
    with pytest.raises(DuplicateRecord), write_session(database) as session:
        repository.AccountHolds(session).lift(
            "h-1", by="operator-c@tec", at=NOW, reason="again", audit_seq=9
        )
    with write_session(database) as session:
        repository.AccountHolds(session).add(_hold("h-4"))  # lifted: a new one may be placed
        active = repository.AccountHolds(session).active()
    with write_session(database) as session:
        repository.AccountHolds(session).lift(
            "h-4", by="operator-b@tec", at=NOW, reason="checked", audit_seq=10
        )
    held_after = [await cache.is_held("walker@pec"), await cache.is_held("other@pec")]

    assert held_before == [True, False]
    assert (first.lifted_by, first.lift_reason, first.lift_audit_seq) == (
        "operator-b@tec",
        "checked",
        8,
    )
    assert not first.is_active
    assert [(h.id, h.account) for h in active] == [("h-2", "other@pec"), ("h-4", "walker@pec")]
    assert held_after == [False, True]
    database.dispose()
