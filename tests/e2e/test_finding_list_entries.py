"""Operators find list entries over HTTP as they find day registrations and overrides: a
keyset listing of every kind with filters, and one voter's entries by IIN (in the body,
looked up by pseudonym, the look-up audited without the IIN)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.cli import app as voterctl
from service.domain.caller import Role
from service.logs import configure_logging
from service.operator import commands
from service.operator.client import ApiClient
from tests.support import (
    ELECTION_ID,
    PEOPLE,
    Country,
    Keys,
    MovableClock,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
)

ALMATY = ZoneInfo("Asia/Almaty")
# Inside the place-of-stay window (until 23:59 on E-30) and the missions' (until E-1).
FEBRUARY = dt.datetime(2027, 2, 1, 12, 0, tzinfo=ALMATY)
RESIDENT = PEOPLE["eligible_permanent"]["iin"]
TEMPORARY = PEOPLE["eligible_temporary"]["iin"]
UNREGISTERED = PEOPLE["no_registration"]["iin"]
STAY, MISSION = "75-0002", "99-0001"
# Even numbers of Абай даңғылы are 75-0002's.
STAY_ADDRESS = {"kato": "751110000", "street": "Абай даңғылы", "house": "14"}


class Desk:
    def __init__(self, client: TestClient, keys: Keys, clock: MovableClock) -> None:
        self.client = client
        self.keys = keys
        self.clock = clock

    def auth(self, role: Role = Role.OPERATOR, subject: str = "operator-a@tec") -> dict[str, str]:
        bearer = token(self.keys, role, subject=subject, now=self.clock.now())
        return {"Authorization": f"Bearer {bearer}"}

    def stay(self, iin: str) -> dict[str, Any]:
        response = self.client.post(
            "/v1/place-of-stay-applications",
            json={
                "election_id": ELECTION_ID,
                "iin": iin,
                "stay_address": STAY_ADDRESS,
                "document_ref": "akimat decision 7/2027",
            },
            headers=self.auth(),
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def mission(self, iin: str) -> dict[str, Any]:
        response = self.client.post(
            "/v1/mission-applications",
            json={
                "election_id": ELECTION_ID,
                "iin": iin,
                "precinct_id": MISSION,
                "document_ref": "mission application 3/2027",
            },
            headers=self.auth(),
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def cancel(self, entry_id: str) -> None:
        asked = self.client.post(
            f"/v1/list-entries/{entry_id}/cancel",
            json={"reason": "moved back"},
            headers=self.auth(),
        )
        assert asked.status_code == 202, asked.text
        approved = self.client.post(
            f"/v1/list-entries/{entry_id}/cancel/approve",
            json={},
            headers=self.auth(subject="operator-b@tec"),
        )
        assert approved.status_code == 200, approved.text

    def listing(self, **params: Any) -> Any:
        return self.client.get("/v1/list-entries", params=params, headers=self.auth())

    def listed(self, **params: Any) -> list[str]:
        response = self.listing(**params)
        assert response.status_code == 200, response.text
        assert response.json()["next"] is None
        return [item["id"] for item in response.json()["items"]]

    def search(self, body: dict[str, Any]) -> Any:
        return self.client.post("/v1/search/list-entries", json=body, headers=self.auth())

    def audit_bodies(self) -> list[dict[str, Any]]:
        items = self.client.get(
            "/v1/audit/entries",
            params={"limit": 1000},
            headers=self.auth(Role.AUDITOR, "auditor@cec"),
        ).json()["items"]
        return [json.loads(item["body"]) for item in items]


@pytest.fixture
def desk(database_url: str, keys: Keys, country: Country) -> Iterator[Desk]:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    clock = MovableClock(FEBRUARY)
    with running_app(settings, mock_transports(country), clock=clock) as (_, client):
        yield Desk(client, keys, clock)


def _a_minute_later(desk: Desk) -> None:
    # The listing orders by creation time: each entry gets its own.
    desk.clock.instant += dt.timedelta(minutes=1)


def test_the_listing_shows_every_kind_oldest_first_and_filters_by_kind_precinct_and_time(
    desk: Desk,
) -> None:
    stay = desk.stay(RESIDENT)
    _a_minute_later(desk)
    mission = desk.mission(TEMPORARY)
    _a_minute_later(desk)
    later_stay = desk.stay(UNREGISTERED)
    between = (FEBRUARY + dt.timedelta(seconds=30)).isoformat()

    every = desk.listing()

    assert every.status_code == 200, every.text
    assert every.json()["next"] is None
    assert every.json()["items"] == [
        desk.client.get(f"/v1/list-entries/{e['id']}", headers=desk.auth()).json()
        for e in (stay, mission, later_stay)
    ]
    assert desk.listed(kind="mission_application") == [mission["id"]]
    assert desk.listed(kind="place_of_stay_application") == [stay["id"], later_stay["id"]]
    assert desk.listed(precinct_id=MISSION) == [mission["id"]]
    assert desk.listed(precinct_id=STAY, created_after=between) == [later_stay["id"]]
    assert desk.listed(created_before=between) == [stay["id"]]
    assert desk.listed(election_id=ELECTION_ID, kind="absentee_certificate") == []
    assert desk.listed(election_id="2027-maslikhat-almaty") == []
    for voter in (RESIDENT, TEMPORARY, UNREGISTERED):
        assert voter not in every.text


def test_the_status_filter_tells_a_cancelled_entry_from_the_active_ones(desk: Desk) -> None:
    stay = desk.stay(RESIDENT)
    _a_minute_later(desk)
    mission = desk.mission(TEMPORARY)
    assert desk.listed(status="cancelled") == []

    desk.cancel(stay["id"])

    assert desk.listed(status="cancelled") == [stay["id"]]
    assert desk.listed(status="active") == [mission["id"]]
    [shown] = desk.listing(status="cancelled").json()["items"]
    assert (shown["status"], shown["cancelled_by"], shown["cancel_reason"]) == (
        "cancelled",
        "operator-b@tec",
        "moved back",
    )
    assert [r["status"] for r in shown["cancellation_requests"]] == ["approved"]


def test_the_listing_pages_across_pages_showing_each_entry_once(desk: Desk) -> None:
    made = []
    for voter in (RESIDENT, TEMPORARY, UNREGISTERED):
        made.append(desk.stay(voter)["id"])
        _a_minute_later(desk)

    first = desk.listing(limit=2)
    second = desk.listing(limit=2, cursor=first.json()["next"])

    assert [i["id"] for i in first.json()["items"]] == made[:2]
    assert first.json()["next"] is not None
    assert [i["id"] for i in second.json()["items"]] == made[2:]
    assert second.json()["next"] is None
    # A status filter reads on past what it leaves out, and never ends on an empty page.
    desk.cancel(made[1])
    active = desk.listing(limit=1, status="active")
    rest = desk.listing(limit=1, status="active", cursor=active.json()["next"])
    assert [i["id"] for i in active.json()["items"] + rest.json()["items"]] == [
        made[0],
        made[2],
    ]
    assert rest.json()["next"] is None


@pytest.mark.parametrize("role", [Role.COMMISSION, Role.EGOV, Role.AUDITOR])
def test_the_listing_and_the_search_are_refused_to_anyone_but_an_operator(
    desk: Desk, role: Role
) -> None:
    desk.stay(RESIDENT)

    listing = desk.client.get("/v1/list-entries", headers=desk.auth(role, "someone@else"))
    search = desk.client.post(
        "/v1/search/list-entries", json={"iin": RESIDENT}, headers=desk.auth(role, "someone@else")
    )

    for response in (listing, search):
        assert response.status_code == 403, response.text
        assert response.headers["Content-Type"] == "application/problem+json"
        assert "items" not in response.json()


BAD_LISTING_QUERIES = [
    ({"status": "used"}, "query.status"),
    ({"status": "pending"}, "query.status"),
    ({"kind": "day_registration"}, "query.kind"),
    ({"created_after": "2027-02-01T00:00:00"}, "query.created_after"),
    ({"created_before": "0.5"}, "query.created_before"),
    ({"limit": 0}, "query.limit"),
    ({"limit": 1001}, "query.limit"),
    ({"cursor": "!!"}, "query.cursor"),
    ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
    ({"precinct_id": "75 0001"}, "query.precinct_id"),
    ({"election_id": "2027/president"}, "query.election_id"),
]


@pytest.mark.parametrize(("params", "field"), BAD_LISTING_QUERIES)
def test_a_bad_listing_filter_is_a_422_problem_naming_the_field(
    desk: Desk, params: dict[str, Any], field: str
) -> None:
    response = desk.listing(**params)

    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "VALIDATION_FAILED"
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_bad_status_names_the_statuses_an_entry_has(desk: Desk) -> None:
    [error] = desk.listing(status="used").json()["errors"]

    assert error["allowed"] == ["active", "cancelled"]


def test_searching_by_iin_finds_that_voters_entries_only_and_audits_the_look_up_without_the_iin(
    desk: Desk,
) -> None:
    theirs = desk.stay(RESIDENT)
    _a_minute_later(desk)
    someone_elses = desk.mission(TEMPORARY)
    written = io.StringIO()
    configure_logging(json_output=True, level=logging.DEBUG)
    try:
        with contextlib.redirect_stderr(written), contextlib.redirect_stdout(written):
            found = desk.search({"iin": f" {RESIDENT} "})
            filtered_out = desk.search({"iin": RESIDENT, "kind": "mission_application"})
            nobodys = desk.search({"iin": UNREGISTERED})
    finally:
        structlog.reset_defaults()
        configure_logging(json_output=True)

    assert found.status_code == 200, found.text
    assert found.json() == {"items": desk.listing(precinct_id=STAY).json()["items"], "next": None}
    assert [item["id"] for item in found.json()["items"]] == [theirs["id"]]
    assert someone_elses["id"] not in found.text
    assert filtered_out.json() == {"items": [], "next": None}
    assert nobodys.json() == {"items": [], "next": None}
    audited = desk.audit_bodies()
    [added] = [b for b in audited if b["payload"].get("entry_id") == theirs["id"]]
    lookups = [b for b in audited if b["kind"].endswith(".lookup")]
    assert [b["kind"] for b in lookups] == ["list_entry.lookup"] * 3
    assert lookups[0]["subject"] == lookups[1]["subject"] == added["subject"]
    assert lookups[0]["payload"]["found"] == [{"id": theirs["id"], "election_id": ELECTION_ID}]
    assert lookups[0]["payload"]["actor"]["sub"] == "operator-a@tec"
    assert lookups[1]["payload"]["found"] == []
    assert lookups[2]["subject"] not in (added["subject"], None)
    assert lookups[2]["payload"]["found"] == []
    logged = written.getvalue()
    assert "http.request" in logged  # the capture saw the service's lines
    for text in (logged, json.dumps(audited), found.text):
        for voter in (RESIDENT, TEMPORARY, UNREGISTERED):
            assert voter not in text


def test_a_search_follows_the_cursor_it_hands_out(desk: Desk) -> None:
    stay = desk.stay(RESIDENT)
    desk.cancel(stay["id"])
    _a_minute_later(desk)
    mission = desk.mission(RESIDENT)

    first = desk.search({"iin": RESIDENT, "limit": 1})
    second = desk.search({"iin": RESIDENT, "limit": 1, "cursor": first.json()["next"]})
    active = desk.search({"iin": RESIDENT, "status": "active"})

    assert [i["id"] for i in first.json()["items"]] == [stay["id"]]
    assert [i["id"] for i in second.json()["items"]] == [mission["id"]]
    assert second.json()["next"] is None
    assert [i["id"] for i in active.json()["items"]] == [mission["id"]]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"iin": "900101300127"}, "IIN_CHECKSUM"),
        ({"iin": "12345"}, "IIN_FORMAT"),
        ({"iin": RESIDENT, "status": "used"}, "VALIDATION_FAILED"),
        ({"iin": RESIDENT, "kind": "override"}, "VALIDATION_FAILED"),
        ({"iin": RESIDENT, "created_after": 0}, "VALIDATION_FAILED"),
        ({"iin": RESIDENT, "surname": "x"}, "VALIDATION_FAILED"),
        ({}, "VALIDATION_FAILED"),
    ],
)
def test_a_bad_search_is_a_422_problem_and_is_not_audited(
    desk: Desk, body: dict[str, Any], code: str
) -> None:
    before = len(desk.audit_bodies())

    response = desk.search(body)

    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert len(desk.audit_bodies()) == before


def test_voterctl_records_both_applications_then_lists_and_finds_the_entries(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def make_client(base_url: str, bearer: str, *, language: str) -> ApiClient:
        # The app in this process, reached through the test client's own transport.
        return ApiClient(base_url, bearer, language=language, transport=desk.client._transport)

    monkeypatch.setattr(commands, "make_client", make_client)
    bearer = token(desk.keys, Role.OPERATOR, subject="operator-a@tec", now=desk.clock.now())
    voter_file = tmp_path / "voter.txt"
    voter_file.write_text(f"{RESIDENT}\n", "utf-8")

    def run(*args: str, stdin: str | None = None) -> Any:
        result = CliRunner().invoke(voterctl, list(args), env={"VOTER_TOKEN": bearer}, input=stdin)
        assert result.exit_code == 0, result.output
        for voter in (RESIDENT, TEMPORARY):
            assert voter not in result.output
        return result

    stay = run(
        *("applications", "place-of-stay", "--election", ELECTION_ID),
        *("--iin-file", str(voter_file), "--kato", STAY_ADDRESS["kato"]),
        *("--street", STAY_ADDRESS["street"], "--house", STAY_ADDRESS["house"]),
        *("--document-ref", "akimat decision 7/2027", "--json"),
    )
    _a_minute_later(desk)
    mission = run(
        *("applications", "mission", "--election", ELECTION_ID, "--iin-file", "-"),
        *("--precinct", MISSION, "--document-ref", "mission application 3/2027", "--json"),
        stdin=f"{TEMPORARY}\n",
    )
    listed = run("entries", "list", "--election", ELECTION_ID, "--json")
    table = run("entries", "list", "--kind", "mission_application")
    found = run("entries", "find", "--iin-file", str(voter_file), "--json")

    stay_entry, mission_entry = json.loads(stay.stdout), json.loads(mission.stdout)
    assert (stay_entry["kind"], stay_entry["precinct"]["id"]) == ("place_of_stay_application", STAY)
    assert (mission_entry["kind"], mission_entry["precinct"]["id"]) == (
        "mission_application",
        MISSION,
    )
    assert json.loads(listed.stdout) == {"items": [stay_entry, mission_entry], "next": None}
    assert mission_entry["id"] in table.stdout
    assert stay_entry["id"] not in table.stdout
    assert [i["id"] for i in json.loads(found.stdout)["items"]] == [stay_entry["id"]]
    assert [b["kind"] for b in desk.audit_bodies() if b["kind"].endswith(".lookup")] == [
        "list_entry.lookup"
    ]
