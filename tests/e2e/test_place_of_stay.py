"""Place-of-stay applications over HTTP (SPEC §15 way 3): the application moves the voter
to the precinct covering the stay address, inside its window in that precinct's zone and the
election's territory, holds the voter's one place, is cancelled by two operators, and no
IIN or address reaches the audit log or the logs."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from service.domain.caller import Role
from service.domain.iin_text import holds_iin_shaped
from tests.support import (
    AKIM_ID,
    ELECTION_ID,
    ORAL_KATO,
    PEOPLE,
    PRECINCTS,
    Keys,
    MovableClock,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
    write_country,
)

ALMATY = ZoneInfo("Asia/Almaty")
RESIDENT = PEOPLE["eligible_permanent"]["iin"]  # home precinct 75-0001
NO_REGISTRATION = PEOPLE["no_registration"]["iin"]
IMPRISONED = PEOPLE["imprisoned"]["iin"]
HOME, STAY = "75-0001", "75-0002"
ORAL_STAY = "27-0002"
STREET = "Абай даңғылы"
# Even numbers of Абай даңғылы are 75-0002's.
STAY_ADDRESS = {"kato": "751110000", "street": STREET, "house": "14"}
ORAL_ADDRESS = {"kato": ORAL_KATO, "street": "Сырым Датұлы", "house": "5"}
E = dt.date(2027, 3, 21)
CALLED_ON = dt.date(2027, 1, 20)


def _at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=ALMATY)


def _country(directory: Path) -> Any:
    country = write_country(directory)
    oral = {
        **PRECINCTS[0],
        "id": ORAL_STAY,
        "number": 2,
        "name": "School No. 12, Oral",
        "kato": ORAL_KATO,
        "timezone": "Asia/Oral",
        "segments": [{"street": "Сырым Датұлы", "from": 1, "to": 99, "parity": "all"}],
    }
    with country.precincts.open("a", encoding="utf-8") as out:
        out.write(json.dumps(oral, ensure_ascii=False) + "\n")
    return country


class Desk:
    def __init__(self, client: TestClient, clock: MovableClock, keys: Keys) -> None:
        self.client = client
        self.clock = clock
        self.keys = keys

    def auth(self, *roles: Role, subject: str = "operator-1@tec", **claims: Any) -> dict[str, str]:
        bearer = token(self.keys, *roles, subject=subject, now=self.clock.now(), **claims)
        return {"Authorization": f"Bearer {bearer}"}

    def apply(
        self,
        iin: str,
        address: dict[str, str] | None = None,
        election: str = ELECTION_ID,
    ) -> Any:
        return self.client.post(
            "/v1/place-of-stay-applications",
            json={
                "election_id": election,
                "iin": iin,
                "stay_address": address or STAY_ADDRESS,
                "document_ref": "akimat decision 7/2027",
            },
            headers=self.auth(Role.OPERATOR),
        )

    def check(self, iin: str, election: str = ELECTION_ID) -> dict[str, Any]:
        response = self.client.post(
            "/v1/eligibility/check",
            json={"iin": iin, "election_id": election},
            headers=self.auth(Role.EGOV, subject="clerk@egov"),
        )
        assert response.status_code == 200, response.text
        decision: dict[str, Any] = response.json()
        return decision

    def at(self, iin: str, precinct: str) -> dict[str, Any]:
        response = self.client.post(
            "/v1/precinct-checks",
            json={"iin": iin, "election_id": ELECTION_ID, "precinct_id": precinct},
            headers=self.auth(Role.COMMISSION, subject="member@tec", precincts=(precinct,)),
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def audit_bodies(self) -> list[dict[str, Any]]:
        page = self.client.get(
            "/v1/audit/entries",
            params={"limit": 1000},
            headers=self.auth(Role.AUDITOR, subject="auditor@cec"),
        )
        assert page.status_code == 200, page.text
        return [json.loads(item["body"]) for item in page.json()["items"]]


@pytest.fixture
def desk(database_url: str, keys: Keys, tmp_path: Path) -> Iterator[Desk]:
    country = _country(tmp_path / "country")
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    clock = MovableClock(_at(dt.date(2027, 2, 1), 12))
    with running_app(settings, mock_transports(country), clock=clock) as (_, client):
        yield Desk(client, clock, keys)


def test_an_application_moves_the_voter_to_the_precinct_covering_the_stay_address(
    desk: Desk,
) -> None:
    assert desk.check(RESIDENT)["precinct"]["id"] == HOME

    response = desk.apply(RESIDENT)

    assert response.status_code == 201, response.text
    entry = response.json()
    assert (entry["kind"], entry["precinct"]["id"], entry["status"]) == (
        "place_of_stay_application",
        STAY,
        "active",
    )
    after = desk.check(RESIDENT)
    assert (after["basis"], after["precinct"]["id"]) == ("place_of_stay_application", STAY)
    assert desk.at(RESIDENT, STAY)["included"] is True
    assert [r["code"] for r in desk.at(RESIDENT, HOME)["reasons"]] == ["NOT_IN_PRECINCT"]
    added = [b for b in desk.audit_bodies() if b["kind"] == "list_entry.add"]
    assert [b["payload"]["entry_kind"] for b in added] == ["place_of_stay_application"]


def test_a_voter_registered_nowhere_is_placed_by_an_application(desk: Desk) -> None:
    assert desk.check(NO_REGISTRATION)["precinct"] is None
    assert desk.apply(NO_REGISTRATION).status_code == 201
    after = desk.check(NO_REGISTRATION)
    assert (after["basis"], after["precinct"]["id"], after["next_steps"]) == (
        "place_of_stay_application",
        STAY,
        [],
    )


@pytest.mark.parametrize(
    ("iin", "address", "election", "status", "code"),
    [
        (RESIDENT, {**STAY_ADDRESS, "street": "Нет такой улицы"}, ELECTION_ID, 422, None),
        (RESIDENT, STAY_ADDRESS, AKIM_ID, 422, "PRECINCT_OUTSIDE_TERRITORY"),
        (IMPRISONED, STAY_ADDRESS, ELECTION_ID, 422, "NOT_ELIGIBLE"),
    ],
    ids=["address-not-covered", "outside-territory", "not-eligible"],
)
def test_an_application_is_refused_where_the_law_refuses_it(
    desk: Desk, iin: str, address: dict[str, str], election: str, status: int, code: str | None
) -> None:
    response = desk.apply(iin, address, election)
    assert (response.status_code, response.json()["code"]) == (
        status,
        code or "STAY_ADDRESS_NOT_COVERED",
    )
    if code == "NOT_ELIGIBLE":
        assert [r["code"] for r in response.json()["reasons"]] == ["IMPRISONED_BY_SENTENCE"]
        assert response.json()["audit"]["seq"] > 0


def test_a_second_way_onto_a_list_is_refused_naming_the_application(desk: Desk) -> None:
    first = desk.apply(RESIDENT).json()
    second = desk.apply(RESIDENT, ORAL_ADDRESS)
    assert (second.status_code, second.json()["code"]) == (409, "ALREADY_ON_LIST")
    assert second.json()["holder"] == {"kind": "list_entry", "id": first["id"]}
    desk.clock.instant = _at(dt.date(2027, 3, 10), 12)  # inside the certificates window
    certificate = desk.client.post(
        "/v1/absentee-certificates",
        json={"election_id": ELECTION_ID, "iin": RESIDENT, "document_ref": "application 1"},
        headers=desk.auth(Role.OPERATOR),
    )
    assert (certificate.status_code, certificate.json()["holder"]["id"]) == (409, first["id"])


def test_an_application_brings_a_voter_into_a_local_elections_territory(desk: Desk) -> None:
    """An Almaty resident staying in Oral votes in Oral's akim election once the akimat
    accepts the application (SPEC §14: the list precinct decides the territory)."""
    before = desk.check(RESIDENT, AKIM_ID)
    assert (before["outcome"], [r["code"] for r in before["reasons"]]) == (
        "ineligible",
        ["OUTSIDE_TERRITORY"],
    )
    response = desk.apply(RESIDENT, ORAL_ADDRESS, AKIM_ID)
    assert response.status_code == 201, response.text
    after = desk.check(RESIDENT, AKIM_ID)
    assert (after["outcome"], after["basis"], after["precinct"]["id"]) == (
        "eligible",
        "place_of_stay_application",
        ORAL_STAY,
    )


@pytest.mark.parametrize(
    ("instant", "status"),
    [
        (_at(CALLED_ON - dt.timedelta(days=1), 23, 59, 59), 409),  # before the call
        (_at(CALLED_ON, 0), 201),  # first instant
        (_at(E - dt.timedelta(days=30), 23, 59, 59), 201),  # last second of E-30
        (_at(E - dt.timedelta(days=29), 0), 409),  # after
    ],
    ids=["before", "first-instant", "last-instant", "after"],
)
def test_applications_are_accepted_from_the_call_until_23_59_on_e_minus_30(
    desk: Desk, instant: dt.datetime, status: int
) -> None:
    desk.clock.instant = instant
    response = desk.apply(RESIDENT)
    assert response.status_code == status, response.text
    if status == 409:
        body = response.json()
        assert (body["code"], body["precinct_id"]) == ("APPLICATIONS_CLOSED", STAY)
        # Local midnight in the precinct's zone (UTC+5): 19:00 UTC the evening before.
        assert (body["opens_at"], body["closes_at"]) == (
            "2027-01-19T19:00:00+00:00",
            "2027-02-19T19:00:00+00:00",
        )
        assert desk.check(RESIDENT)["basis"] == "permanent_registration"


def test_cancelling_an_application_takes_two_operators_and_sends_the_voter_home(
    desk: Desk,
) -> None:
    entry = desk.apply(RESIDENT).json()
    path = f"/v1/list-entries/{entry['id']}"
    asked = desk.client.post(
        f"{path}/cancel", json={"reason": "went home"}, headers=desk.auth(Role.OPERATOR)
    )
    assert (asked.status_code, asked.json()["status"]) == (202, "active")
    assert desk.check(RESIDENT)["precinct"]["id"] == STAY
    approved = desk.client.post(
        f"{path}/cancel/approve", json={}, headers=desk.auth(Role.OPERATOR, subject="op-2@tec")
    )
    assert (approved.status_code, approved.json()["status"]) == (200, "cancelled")
    assert desk.check(RESIDENT)["precinct"]["id"] == HOME
    assert desk.apply(RESIDENT).status_code == 201  # the place is free again


def test_no_iin_or_address_in_the_answers_the_audit_or_the_logs(desk: Desk) -> None:
    written = io.StringIO()
    with contextlib.redirect_stderr(written), contextlib.redirect_stdout(written):
        added = desk.apply(RESIDENT)
        refused = desk.apply(RESIDENT)
        barred = desk.apply(IMPRISONED)
    logged = written.getvalue()
    assert "http.request" in logged
    assert not holds_iin_shaped(logged)
    bodies = desk.audit_bodies()
    mine = [b for b in bodies if b["kind"] in ("list_entry.add", "list_entry.refuse")]
    assert len(mine) == 3
    assert all(b["subject"].startswith("v1:") for b in mine)
    audited = json.dumps(bodies, ensure_ascii=False)
    assert STREET not in audited
    for response in (added, refused, barred):
        for iin in (RESIDENT, IMPRISONED):
            assert iin not in response.text
    for iin in (RESIDENT, IMPRISONED):
        assert iin not in audited
