"""The database itself keeps one open undo request per record and lets one decision close it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from service.db import repository
from service.db.engine import open_database, write_session
from service.db.migrations import create_schema
from service.domain.undo import UndoStatus
from service.usecases.ports import DuplicateRecord, UndoRequestRecord

NOW = dt.datetime(2027, 3, 21, 5, 0, tzinfo=dt.UTC)


def _request(request_id: str, *, target_id: str = "override-1") -> UndoRequestRecord:
    return UndoRequestRecord(
        id=request_id,
        target_kind="override",
        target_id=target_id,
        requested_by="operator-a@tec",
        requested_at=NOW,
        reason="appeal upheld",
        audit_seq=7,
    )


def test_a_second_open_request_for_one_record_violates_a_unique_constraint(
    database_url: str,
) -> None:
    database = open_database(database_url)
    create_schema(database)
    with write_session(database) as session:
        repository.UndoRequests(session).add(_request("u-1"))
        repository.UndoRequests(session).add(_request("u-2", target_id="override-2"))
    with pytest.raises(IntegrityError), write_session(database) as session:
        repository.UndoRequests(session).add(_request("u-3"))
    database.dispose()


def test_only_the_first_of_two_decisions_closes_a_request(database_url: str) -> None:
    database = open_database(database_url)
    create_schema(database)
    with write_session(database) as session:
        repository.UndoRequests(session).add(_request("u-1"))

    with write_session(database) as session:
        first = repository.UndoRequests(session).decide(
            "u-1", status=UndoStatus.APPROVED, by="operator-b@tec", at=NOW, reason=None, audit_seq=8
        )
    with pytest.raises(DuplicateRecord), write_session(database) as session:
        repository.UndoRequests(session).decide(
            "u-1", status=UndoStatus.REFUSED, by="operator-c@tec", at=NOW, reason="no", audit_seq=9
        )
    with write_session(database) as session:
        repository.UndoRequests(session).add(_request("u-4"))  # closed: a new one may open
        stored = repository.UndoRequests(session).of(target_kind="override", target_id="override-1")

    assert (first.status, first.decided_by, first.decision_audit_seq) == (
        UndoStatus.APPROVED,
        "operator-b@tec",
        8,
    )
    assert [(r.id, r.status, r.decided_by) for r in stored] == [
        ("u-1", UndoStatus.APPROVED, "operator-b@tec"),
        ("u-4", UndoStatus.PENDING, None),
    ]
    database.dispose()
