"""Mission applications over HTTP (SPEC §15 way 6): a citizen staying abroad briefly is put
on a mission's list, only at a mission, only for the kinds voted abroad, until 18:00 on E-1
in the mission's zone; the place is held, and two operators cancel."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from service.domain.caller import Role
from tests.support import (
    ELECTION_ID,
    MASLIKHAT_ID,
    PEOPLE,
    Keys,
    MovableClock,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
    write_country,
)

LONDON = ZoneInfo("Europe/London")
RESIDENT = PEOPLE["eligible_permanent"]["iin"]  # home precinct 75-0001
IMPRISONED = PEOPLE["imprisoned"]["iin"]
MISSION, HOME = "99-0001", "75-0001"
E = dt.date(2027, 3, 21)
CALLED_ON = dt.date(2027, 1, 20)


def _london(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=LONDON)


class Desk:
    def __init__(self, client: TestClient, clock: MovableClock, keys: Keys) -> None:
        self.client = client
        self.clock = clock
        self.keys = keys

    def auth(self, *roles: Role, subject: str = "consul@mfa", **claims: Any) -> dict[str, str]:
        bearer = token(self.keys, *roles, subject=subject, now=self.clock.now(), **claims)
        return {"Authorization": f"Bearer {bearer}"}

    def apply(self, iin: str, precinct: str = MISSION, election: str = ELECTION_ID) -> Any:
        return self.client.post(
            "/v1/mission-applications",
            json={
                "election_id": election,
                "iin": iin,
                "precinct_id": precinct,
                "document_ref": "mission application 3/2027",
            },
            headers=self.auth(Role.OPERATOR),
        )

    def check(self, iin: str) -> dict[str, Any]:
        response = self.client.post(
            "/v1/eligibility/check",
            json={"iin": iin, "election_id": ELECTION_ID},
            headers=self.auth(Role.EGOV, subject="clerk@egov"),
        )
        assert response.status_code == 200, response.text
        decision: dict[str, Any] = response.json()
        return decision


@pytest.fixture
def desk(database_url: str, keys: Keys, tmp_path: Path) -> Iterator[Desk]:
    country = write_country(tmp_path / "country")
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    clock = MovableClock(_london(dt.date(2027, 3, 10), 12))
    with running_app(settings, mock_transports(country), clock=clock) as (_, client):
        yield Desk(client, clock, keys)


def test_a_mission_application_puts_the_voter_on_the_missions_list(desk: Desk) -> None:
    assert desk.check(RESIDENT)["precinct"]["id"] == HOME

    response = desk.apply(RESIDENT)

    assert response.status_code == 201, response.text
    assert (response.json()["kind"], response.json()["precinct"]["id"]) == (
        "mission_application",
        MISSION,
    )
    after = desk.check(RESIDENT)
    assert (after["basis"], after["precinct"]["id"]) == ("mission_application", MISSION)
    precinct_check = desk.client.post(
        "/v1/precinct-checks",
        json={"iin": RESIDENT, "election_id": ELECTION_ID, "precinct_id": MISSION},
        headers=desk.auth(Role.COMMISSION, subject="member@mfa", precincts=(MISSION,)),
    )
    assert precinct_check.json()["included"] is True
    again = desk.apply(RESIDENT)
    assert (again.status_code, again.json()["code"]) == (409, "ALREADY_ON_LIST")
    assert again.json()["holder"] == {"kind": "list_entry", "id": response.json()["id"]}


@pytest.mark.parametrize(
    ("iin", "precinct", "election", "status", "code"),
    [
        (RESIDENT, HOME, ELECTION_ID, 422, "PRECINCT_NOT_FOREIGN"),
        (RESIDENT, "99-9999", ELECTION_ID, 404, "PRECINCT_NOT_FOUND"),
        (RESIDENT, MISSION, MASLIKHAT_ID, 422, "PRECINCT_OUTSIDE_TERRITORY"),
        (IMPRISONED, MISSION, ELECTION_ID, 422, "NOT_ELIGIBLE"),
    ],
    ids=["not-a-mission", "unknown", "local-election", "not-eligible"],
)
def test_a_mission_application_is_refused_where_the_law_refuses_it(
    desk: Desk, iin: str, precinct: str, election: str, status: int, code: str
) -> None:
    response = desk.apply(iin, precinct, election)
    assert (response.status_code, response.json()["code"]) == (status, code)


@pytest.mark.parametrize(
    ("instant", "status"),
    [
        (_london(CALLED_ON - dt.timedelta(days=1), 23, 59, 59), 409),  # before the call
        (_london(CALLED_ON, 0), 201),  # first instant
        (_london(E - dt.timedelta(days=1), 17, 59, 59), 201),  # last second, mission time
        (_london(E - dt.timedelta(days=1), 18, 0), 409),  # after
    ],
    ids=["before", "first-instant", "last-instant", "after"],
)
def test_mission_applications_are_accepted_until_18_00_on_e_minus_1_mission_time(
    desk: Desk, instant: dt.datetime, status: int
) -> None:
    """London is UTC+0 in March: 17:59:59 there is 22:59:59 in Almaty, long after 18:00."""
    desk.clock.instant = instant
    response = desk.apply(RESIDENT)
    assert response.status_code == status, response.text
    if status == 409:
        body = response.json()
        assert (body["code"], body["precinct_id"]) == ("MISSION_APPLICATIONS_CLOSED", MISSION)
        assert (body["opens_at"], body["closes_at"]) == (
            "2027-01-20T00:00:00+00:00",
            "2027-03-20T18:00:00+00:00",
        )


def test_cancelling_a_mission_application_takes_two_operators(desk: Desk) -> None:
    entry = desk.apply(RESIDENT).json()
    path = f"/v1/list-entries/{entry['id']}"
    asked = desk.client.post(
        f"{path}/cancel", json={"reason": "flew home"}, headers=desk.auth(Role.OPERATOR)
    )
    assert asked.status_code == 202, asked.text
    approved = desk.client.post(
        f"{path}/cancel/approve", json={}, headers=desk.auth(Role.OPERATOR, subject="op-2@mfa")
    )
    assert (approved.status_code, approved.json()["status"]) == (200, "cancelled")
    assert desk.check(RESIDENT)["precinct"]["id"] == HOME
    audited = desk.client.get(
        "/v1/audit/entries",
        params={"limit": 1000},
        headers=desk.auth(Role.AUDITOR, subject="auditor@cec"),
    ).json()["items"]
    kinds = [json.loads(item["body"])["kind"] for item in audited]
    assert kinds.count("list_entry.add") == 1
    assert kinds.count("list_entry.cancel") == 1
    assert RESIDENT not in json.dumps(audited)
