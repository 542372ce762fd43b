"""The database itself refuses a second active day registration of one voter."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from service.db import repository
from service.db.engine import open_database, write_session
from service.db.migrations import create_schema
from service.usecases.ports import DayRegistrationRecord

NOW = dt.datetime(2027, 3, 21, 5, 0, tzinfo=dt.UTC)
SUBJECT = "v1:" + "ab" * 32


def _record(registration_id: str, *, active: bool = True) -> DayRegistrationRecord:
    return DayRegistrationRecord(
        id=registration_id,
        election_id="2027-president",
        subject=SUBJECT,
        precinct_id="75-0002",
        registered_by="clerk@egov",
        registered_at=NOW,
        lapses_at=NOW + dt.timedelta(hours=20),
        audit_seq=1,
        cancelled_at=None if active else NOW,
        cancelled_by=None if active else "operator@tec",
        cancel_reason=None if active else "entered in error",
    )


def test_two_active_registrations_of_one_voter_violate_a_unique_constraint(
    database_url: str,
) -> None:
    database = open_database(database_url)
    create_schema(database)
    with write_session(database) as session:
        repository.DayRegistrations(session).add(_record("r-1"))
    with pytest.raises(IntegrityError), write_session(database) as session:
        repository.DayRegistrations(session).add(_record("r-2"))
    # Cancelled ones do not count: any number may coexist with one active registration.
    with write_session(database) as session:
        repository.DayRegistrations(session).add(_record("r-3", active=False))
        repository.DayRegistrations(session).add(_record("r-4", active=False))
    database.dispose()
