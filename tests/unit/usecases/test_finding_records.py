"""Operators find a voter's overrides and day registrations by IIN, and page through listings.

The IIN is turned into the pseudonym the records are stored under; the look-up is audited
under that pseudonym, with no IIN anywhere in the entry.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from service.domain.day_registration import RegistrationStatus
from service.domain.model import OverrideKind
from service.domain.overrides import OverrideAction, OverrideReason, OverrideStatus
from service.errors import ErrorCode, InvalidInput
from service.usecases.overrides import NewOverride, OverrideView
from service.usecases.paging import Page
from service.usecases.ports import DayRegistrationQuery, DayRegistrationRecord, OverrideQuery
from tests.unit.factories import ELECTION
from tests.unit.usecases.fakes import pseudonym
from tests.unit.usecases.world import (
    ABROAD,
    CHECKER,
    HOMELESS,
    MAKER,
    ON_THE_DAY,
    RESIDENT,
    SPECIAL,
    World,
    world,
)

LAPSES = dt.datetime(2027, 3, 21, 19, 0, tzinfo=dt.UTC)


async def create(w: World, iin: str, *, kind: OverrideKind = OverrideKind.ASSIGN) -> OverrideView:
    return await w.overrides.create(
        NewOverride(
            raw_iin=iin,
            election_id=ELECTION.id,
            kind=kind,
            precinct_id=SPECIAL.id if kind is OverrideKind.ASSIGN else None,
            reason_code=OverrideReason.SPECIAL_INSTITUTION,
            reason_text="in hospital on voting day",
            document_ref="order 12",
            expires_on=None,
        ),
        caller=MAKER,
        request_id="req-create",
    )


def day_registration(
    registration_id: str, iin: str, *, at: dt.datetime, cancelled: bool = False
) -> DayRegistrationRecord:
    return DayRegistrationRecord(
        id=registration_id,
        election_id=ELECTION.id,
        subject=pseudonym(iin),
        precinct_id="75-0002",
        registered_by="clerk@egov",
        registered_at=at,
        lapses_at=LAPSES,
        audit_seq=1,
        cancelled_at=at if cancelled else None,
        cancelled_by="op@tec" if cancelled else None,
        cancel_reason="wrong desk" if cancelled else None,
    )


async def test_finding_by_iin_returns_the_voters_overrides_and_no_one_elses() -> None:
    w = world()
    mine = [await create(w, RESIDENT), await create(w, RESIDENT, kind=OverrideKind.EXCLUDE)]
    await create(w, HOMELESS)
    before = len(w.store.entries)

    found = await w.overrides.find(
        RESIDENT,
        OverrideQuery(),
        status=None,
        limit=100,
        cursor=None,
        caller=CHECKER,
        request_id="req-find",
    )

    # One fixed clock: every override has the same creation time, so the id orders them.
    assert [v.id for v in found.items] == sorted(v.id for v in mine)
    assert {v.subject for v in found.items} == {pseudonym(RESIDENT)}
    assert found.next_cursor is None
    [entry] = w.store.entries[before:]
    assert (entry.kind, entry.subject) == ("override.lookup", pseudonym(RESIDENT))
    assert [f["id"] for f in entry.payload["found"]] == sorted(v.id for v in mine)
    assert entry.payload["actor"]["sub"] == CHECKER.subject
    assert RESIDENT not in json.dumps(entry.payload)


async def test_finding_a_voter_with_no_records_is_audited_all_the_same() -> None:
    w = world()
    await create(w, RESIDENT)

    found = await w.overrides.find(
        ABROAD,
        OverrideQuery(),
        status=None,
        limit=100,
        cursor=None,
        caller=CHECKER,
        request_id="req-find",
    )

    assert found == Page((), None)
    assert (w.store.entries[-1].kind, w.store.entries[-1].subject) == (
        "override.lookup",
        pseudonym(ABROAD),
    )
    assert w.store.entries[-1].payload["found"] == []


async def test_finding_by_a_malformed_iin_is_refused_and_not_audited() -> None:
    w = world()

    with pytest.raises(InvalidInput) as raised:
        await w.overrides.find(
            "900101300127",
            OverrideQuery(),
            status=None,
            limit=100,
            cursor=None,
            caller=CHECKER,
            request_id="req-find",
        )

    assert raised.value.code is ErrorCode.IIN_CHECKSUM
    assert w.store.entries == []


async def test_finding_day_registrations_by_iin_returns_the_voters_and_no_one_elses() -> None:
    w = world(now=ON_THE_DAY)
    at = ON_THE_DAY - dt.timedelta(hours=1)
    w.store.day_registrations = {
        "0001": day_registration("0001", HOMELESS, at=at, cancelled=True),
        "0002": day_registration("0002", RESIDENT, at=at + dt.timedelta(minutes=5)),
        "0003": day_registration("0003", HOMELESS, at=at + dt.timedelta(minutes=10)),
    }
    w.store.entries.clear()

    found = await w.day_registrations.find(
        HOMELESS,
        DayRegistrationQuery(),
        status=None,
        limit=100,
        cursor=None,
        caller=CHECKER,
        request_id="req-find",
    )

    assert [(v.id, v.status) for v in found.items] == [
        ("0001", RegistrationStatus.CANCELLED),
        ("0003", RegistrationStatus.ACTIVE),
    ]
    [entry] = w.store.entries
    assert (entry.kind, entry.subject) == ("day_registration.lookup", pseudonym(HOMELESS))
    assert HOMELESS not in json.dumps(entry.payload)


async def test_the_override_listing_filters_by_derived_status_across_pages() -> None:
    w = world()
    created = [await create(w, RESIDENT) for _ in range(5)]
    for view in created[1::2]:
        await w.overrides.act(
            view.id, OverrideAction.REFUSE, reason="no document", caller=CHECKER, request_id="r"
        )

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await w.overrides.page(
            OverrideQuery(), status=OverrideStatus.PENDING, limit=1, cursor=cursor
        )
        seen += [v.id for v in page.items]
        assert all(v.status is OverrideStatus.PENDING for v in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == sorted(v.id for v in created[0::2])


async def test_a_cursor_the_service_did_not_hand_out_is_bad_input() -> None:
    w = world()

    with pytest.raises(InvalidInput) as raised:
        await w.overrides.page(OverrideQuery(), status=None, limit=10, cursor="not-a-cursor")

    assert raised.value.extensions["errors"] == [{"field": "cursor", "type": "invalid_cursor"}]
