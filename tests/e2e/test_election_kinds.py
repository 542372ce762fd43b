"""Election kinds, territory and the calendar over HTTP (SPEC §14, §15), and Service A
limited to the precincts a commission member serves."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from service.domain.caller import Role
from tests.support import (
    AKIM_ID,
    ELECTION_2023_ID,
    ELECTION_ID,
    MASLIKHAT_ID,
    PEOPLE,
    SENATE_ID,
    Country,
    Keys,
    MovableClock,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
)

RESIDENT = PEOPLE["eligible_permanent"]["iin"]  # Almaty, precinct 75-0001
ABROAD = PEOPLE["eligible_consular"]["iin"]  # London only
UNREGISTERED = PEOPLE["no_registration"]["iin"]
VOTING_DAY_10_00_ALMATY = dt.datetime(2027, 3, 21, 10, 0, tzinfo=ZoneInfo("Asia/Almaty"))


@pytest.fixture
def desk(database_url: str, keys: Keys, country: Country) -> Iterator[tuple[TestClient, Keys]]:
    """The app on voting day, 10:00 in Almaty: day registration is open."""
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    clock = MovableClock(VOTING_DAY_10_00_ALMATY)
    with running_app(settings, mock_transports(country), clock=clock) as (_, client):
        yield client, keys


def _bearer(keys: Keys, role: Role, *, precincts: tuple[str, ...] = ()) -> dict[str, str]:
    now = VOTING_DAY_10_00_ALMATY.astimezone(dt.UTC)
    return {
        "Authorization": f"Bearer {token(keys, role, now=now, precincts=precincts)}",
        "Accept-Language": "en",
    }


def _check(client: TestClient, keys: Keys, iin: str, election: str) -> Any:
    return client.post(
        "/v1/eligibility/check",
        json={"iin": iin, "election_id": election},
        headers=_bearer(keys, Role.EGOV),
    )


def _precinct_check(
    client: TestClient,
    keys: Keys,
    *,
    precinct: str,
    serves: tuple[str, ...],
    election: str = ELECTION_ID,
    iin: str = RESIDENT,
) -> Any:
    return client.post(
        "/v1/precinct-checks",
        json={"iin": iin, "election_id": election, "precinct_id": precinct},
        headers=_bearer(keys, Role.COMMISSION, precincts=serves),
    )


def _register(client: TestClient, keys: Keys, *, precinct: str, election: str) -> Any:
    return client.post(
        "/v1/day-registrations",
        json={"iin": UNREGISTERED, "election_id": election, "precinct_id": precinct},
        headers={**_bearer(keys, Role.EGOV), "Idempotency-Key": f"key-{uuid.uuid4()}"},
    )


def _audit_size(client: TestClient, keys: Keys) -> int:
    items = client.get(
        "/v1/audit/entries", params={"limit": 1000}, headers=_bearer(keys, Role.AUDITOR)
    ).json()["items"]
    return len(items)


def _problem(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# The calendar, served with the election.


def test_an_election_serves_its_kind_and_the_calendar_defaults(
    desk: tuple[TestClient, Keys],
) -> None:
    client, keys = desk
    served = client.get(f"/v1/elections/{ELECTION_ID}", headers=_bearer(keys, Role.EGOV)).json()
    assert (served["kind"], served["called_on"], served["territory"]) == (
        "presidential",
        "2027-01-20",
        [],
    )
    assert served["calendar"] == {
        "applications": {"opens": "2027-01-20T00:00", "closes": "2027-02-20T00:00"},
        "lists_frozen_on": "2027-03-01",
        "absentee_certificates": {"opens": "2027-03-06T00:00", "closes": "2027-03-20T18:00"},
        "day_registration": {"opens": "2027-03-21T07:00", "closes": "2027-03-21T20:00"},
        "presence_lists": {"opens": "2027-01-20T00:00", "closes": "2027-03-20T18:00"},
        "mission_applications": {"opens": "2027-01-20T00:00", "closes": "2027-03-20T18:00"},
    }


def test_an_election_serves_the_calendar_step_its_record_changed(
    desk: tuple[TestClient, Keys],
) -> None:
    client, keys = desk
    served = client.get(f"/v1/elections/{MASLIKHAT_ID}", headers=_bearer(keys, Role.EGOV)).json()
    assert (served["kind"], served["territory"]) == ("maslikhat", ["75"])
    assert served["calendar"]["absentee_certificates"] == {
        "opens": "2027-03-01T09:00",
        "closes": "2027-03-20T20:00",
    }
    assert served["calendar"]["lists_frozen_on"] == "2027-03-01"


def test_the_2023_vote_is_served_as_a_mazhilis_election(desk: tuple[TestClient, Keys]) -> None:
    client, keys = desk
    listed = client.get("/v1/elections", headers=_bearer(keys, Role.EGOV)).json()["items"]
    kinds = {e["id"]: e["kind"] for e in listed}
    assert kinds[ELECTION_2023_ID] == "mazhilis"
    assert kinds[SENATE_ID] == "senate"


# Who votes: the Senate is elected by maslikhat deputies, not citizens.


def test_a_check_for_a_senate_election_is_422_and_not_a_decision(
    desk: tuple[TestClient, Keys],
) -> None:
    client, keys = desk
    before = _audit_size(client, keys)
    response = _check(client, keys, RESIDENT, SENATE_ID)
    assert _problem(response) == (422, "ELECTION_NOT_BY_CITIZENS")
    assert response.json()["detail"] == (
        "Citizens do not vote in this election: maslikhat deputies elect."
    )
    assert "audit" not in response.json()
    assert _audit_size(client, keys) == before


def test_service_a_and_b_refuse_a_senate_election_without_auditing(
    desk: tuple[TestClient, Keys],
) -> None:
    client, keys = desk
    before = _audit_size(client, keys)
    checked = _precinct_check(
        client, keys, precinct="75-0001", serves=("75-0001",), election=SENATE_ID
    )
    registered = _register(client, keys, precinct="75-0002", election=SENATE_ID)
    assert _problem(checked) == (422, "ELECTION_NOT_BY_CITIZENS")
    assert _problem(registered) == (422, "ELECTION_NOT_BY_CITIZENS")
    assert _audit_size(client, keys) == before


# Where: a local election's territory.


def test_a_local_election_lists_a_voter_of_its_territory(desk: tuple[TestClient, Keys]) -> None:
    client, keys = desk
    decision = _check(client, keys, RESIDENT, MASLIKHAT_ID).json()
    assert (decision["outcome"], decision["precinct"]["id"]) == ("eligible", "75-0001")


def test_a_local_election_refuses_a_voter_outside_its_territory(
    desk: tuple[TestClient, Keys],
) -> None:
    client, keys = desk
    decision = _check(client, keys, RESIDENT, AKIM_ID).json()
    assert decision["outcome"] == "ineligible"
    assert decision["reasons"] == [
        {
            "code": "OUTSIDE_TERRITORY",
            "message": "The voter's precinct lies outside this election's territory, or the "
            "voter is registered only abroad.",
        }
    ]
    assert decision["precinct"] is None


def test_a_local_election_refuses_a_voter_registered_only_abroad(
    desk: tuple[TestClient, Keys],
) -> None:
    client, keys = desk
    local = _check(client, keys, ABROAD, MASLIKHAT_ID).json()
    national = _check(client, keys, ABROAD, ELECTION_ID).json()
    assert (local["outcome"], [r["code"] for r in local["reasons"]]) == (
        "ineligible",
        ["OUTSIDE_TERRITORY"],
    )
    assert (national["outcome"], national["precinct"]["id"]) == ("eligible", "99-0001")


def test_day_registration_outside_the_territory_is_refused_and_inside_it_is_accepted(
    desk: tuple[TestClient, Keys],
) -> None:
    client, keys = desk
    # 27-0001 is designated, in Oral: not Almaty's maslikhat territory (KATO 75...).
    outside = _register(client, keys, precinct="27-0001", election=MASLIKHAT_ID)
    assert _problem(outside) == (422, "PRECINCT_OUTSIDE_TERRITORY")
    assert "audit" in outside.json()  # a day registration's refusals are all audited
    inside = _register(client, keys, precinct="75-0002", election=MASLIKHAT_ID)
    assert inside.status_code == 201, inside.text


def test_an_unregistered_voter_of_a_local_election_is_offered_its_own_precincts(
    desk: tuple[TestClient, Keys],
) -> None:
    client, keys = desk
    decision = _check(client, keys, UNREGISTERED, AKIM_ID).json()
    assert decision["outcome"] == "eligible"
    assert decision["next_steps"][0]["precinct_ids"] == ["27-0001"]


# Service A: the precincts claim.


def test_service_a_answers_a_member_at_their_own_precinct(desk: tuple[TestClient, Keys]) -> None:
    client, keys = desk
    response = _precinct_check(client, keys, precinct="75-0001", serves=("75-0001",))
    assert response.status_code == 200, response.text
    assert response.json()["included"] is True


def test_service_a_refuses_a_member_at_another_precinct_with_403(
    desk: tuple[TestClient, Keys],
) -> None:
    client, keys = desk
    before = _audit_size(client, keys)
    response = _precinct_check(client, keys, precinct="75-0002", serves=("75-0001",))
    assert _problem(response) == (403, "PRECINCT_NOT_SERVED")
    assert response.json()["detail"] == (
        "Your token does not name this precinct among those you serve."
    )
    assert "75-0002" not in response.text
    assert _audit_size(client, keys) == before


def test_service_a_refuses_a_commission_token_without_the_precincts_claim(
    desk: tuple[TestClient, Keys],
) -> None:
    client, keys = desk
    response = _precinct_check(client, keys, precinct="75-0001", serves=())
    assert _problem(response) == (403, "PRECINCT_NOT_SERVED")


def test_service_a_at_a_precinct_outside_the_territory_is_422(
    desk: tuple[TestClient, Keys],
) -> None:
    client, keys = desk
    oral = _precinct_check(
        client, keys, precinct="27-0001", serves=("27-0001",), election=MASLIKHAT_ID
    )
    mission = _precinct_check(
        client, keys, precinct="99-0001", serves=("99-0001",), election=MASLIKHAT_ID, iin=ABROAD
    )
    assert _problem(oral) == (422, "PRECINCT_OUTSIDE_TERRITORY")
    assert _problem(mission) == (422, "PRECINCT_OUTSIDE_TERRITORY")
