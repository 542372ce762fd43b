"""Operators find things over HTTP: a voter's overrides and day registrations by IIN (in the
body, looked up by pseudonym, the look-up audited without the IIN), keyset listings that show
every record exactly once, and 422 problems for bad filters."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.cli import app as voterctl
from service.domain.caller import Role
from service.domain.overrides import OverrideStatus
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

# 10:00 in Almaty on voting day: inside the day-registration window.
ON_THE_DAY = dt.datetime(2027, 3, 21, 5, 0, tzinfo=dt.UTC)
UNREGISTERED = PEOPLE["no_registration"]["iin"]
RESIDENT = PEOPLE["eligible_permanent"]["iin"]
INCAPACITATED = PEOPLE["incapacitated"]["iin"]


class Desk:
    def __init__(self, client: TestClient, keys: Keys, clock: MovableClock) -> None:
        self.client = client
        self.keys = keys
        self.clock = clock

    def auth(self, role: Role, subject: str = "operator-a@tec") -> dict[str, str]:
        bearer = token(self.keys, role, subject=subject, now=self.clock.now())
        return {"Authorization": f"Bearer {bearer}"}

    def override(self, iin: str, *, kind: str = "include") -> dict[str, Any]:
        response = self.client.post(
            "/v1/overrides",
            json={
                "iin": iin,
                "election_id": ELECTION_ID,
                "kind": kind,
                "reason_code": "COURT_DECISION",
                "reason_text": "capacity restored",
                "document_ref": "court 2-1/2027",
            },
            headers=self.auth(Role.OPERATOR),
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def register(self, iin: str = UNREGISTERED) -> dict[str, Any]:
        response = self.client.post(
            "/v1/day-registrations",
            json={"iin": iin, "election_id": ELECTION_ID, "precinct_id": "75-0002"},
            headers={**self.auth(Role.EGOV, "clerk@egov"), "Idempotency-Key": f"k-{uuid.uuid4()}"},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def cancel(self, registration_id: str) -> None:
        response = self.client.post(
            f"/v1/day-registrations/{registration_id}/cancel",
            json={"reason": "wrong desk"},
            headers=self.auth(Role.OPERATOR),
        )
        assert response.status_code == 202, response.text
        # A second operator approves: undoing takes two people.
        response = self.client.post(
            f"/v1/day-registrations/{registration_id}/cancel/approve",
            json={},
            headers=self.auth(Role.OPERATOR, "operator-b@tec"),
        )
        assert response.status_code == 200, response.text

    def search(self, what: str, body: dict[str, Any]) -> Any:
        return self.client.post(f"/v1/search/{what}", json=body, headers=self.auth(Role.OPERATOR))

    def audit_bodies(self) -> list[dict[str, Any]]:
        items = self.client.get(
            "/v1/audit/entries",
            params={"limit": 1000},
            headers=self.auth(Role.AUDITOR, "auditor@cec"),
        ).json()["items"]
        return [json.loads(item["body"]) for item in items]

    def every_page(self, path: str, params: dict[str, Any]) -> list[list[str]]:
        pages: list[list[str]] = []
        cursor: str | None = None
        while True:
            response = self.client.get(
                path,
                params={**params, **({"cursor": cursor} if cursor else {})},
                headers=self.auth(Role.OPERATOR),
            )
            assert response.status_code == 200, response.text
            pages.append([item["id"] for item in response.json()["items"]])
            cursor = response.json()["next"]
            if cursor is None:
                return pages


@pytest.fixture
def desk(database_url: str, keys: Keys, country: Country) -> Iterator[Desk]:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    clock = MovableClock(ON_THE_DAY)
    with running_app(settings, mock_transports(country), clock=clock) as (_, client):
        yield Desk(client, keys, clock)


def test_finding_by_iin_returns_the_voters_records_and_no_one_elses_and_never_the_iin(
    desk: Desk,
) -> None:
    theirs = [desk.override(UNREGISTERED), desk.override(UNREGISTERED, kind="exclude")]
    someone_elses = desk.override(RESIDENT)
    first = desk.register()
    desk.cancel(first["id"])
    desk.clock.instant += dt.timedelta(minutes=1)  # the listing orders by registration time
    second = desk.register()
    written = io.StringIO()
    configure_logging(json_output=True, level=logging.DEBUG)
    try:
        with contextlib.redirect_stderr(written), contextlib.redirect_stdout(written):
            overrides = desk.search("overrides", {"iin": UNREGISTERED})
            registrations = desk.search("day-registrations", {"iin": f" {UNREGISTERED} "})
            nobodys = desk.search("day-registrations", {"iin": RESIDENT})
    finally:
        structlog.reset_defaults()
        configure_logging(json_output=True)

    assert overrides.status_code == 200, overrides.text
    found = overrides.json()
    assert sorted(item["id"] for item in found["items"]) == sorted(o["id"] for o in theirs)
    assert someone_elses["id"] not in overrides.text
    assert found["next"] is None
    assert [(r["id"], r["status"]) for r in registrations.json()["items"]] == [
        (first["id"], "cancelled"),
        (second["id"], "active"),
    ]
    assert nobodys.json() == {"items": [], "next": None}
    lookups = [body for body in desk.audit_bodies() if body["kind"].endswith(".lookup")]
    assert [body["kind"] for body in lookups] == [
        "override.lookup",
        "day_registration.lookup",
        "day_registration.lookup",
    ]
    assert lookups[0]["subject"] == theirs[0]["subject"]  # the pseudonym the records carry
    assert sorted(f["id"] for f in lookups[0]["payload"]["found"]) == sorted(
        o["id"] for o in theirs
    )
    assert lookups[2]["payload"]["found"] == []
    logged = written.getvalue()
    assert "http.request" in logged  # the capture saw the service's lines
    for text in (logged, json.dumps(desk.audit_bodies()), overrides.text, registrations.text):
        assert UNREGISTERED not in text
        assert RESIDENT not in text


def test_paging_shows_every_record_exactly_once_whatever_the_page_size(desk: Desk) -> None:
    voters = [UNREGISTERED, RESIDENT, INCAPACITATED]
    created = [desk.override(voters[n % 3]) for n in range(7)]
    approve = desk.client.post(
        f"/v1/overrides/{created[2]['id']}/approve",
        json={},
        headers=desk.auth(Role.OPERATOR, "operator-b@tec"),
    )
    assert approve.status_code == 200, approve.text
    registered = desk.register()

    for limit in (1, 2, 3, 7, 100):
        pages = desk.every_page("/v1/overrides", {"limit": limit})
        shown = [override_id for page in pages for override_id in page]
        assert sorted(shown) == sorted(o["id"] for o in created), limit
        assert all(0 < len(page) <= limit for page in pages), limit
    pending = desk.every_page("/v1/overrides", {"limit": 2, "status": OverrideStatus.PENDING})
    assert sorted(i for page in pending for i in page) == sorted(
        o["id"] for n, o in enumerate(created) if n != 2
    )
    assert desk.every_page("/v1/day-registrations", {"limit": 1, "status": "active"}) == [
        [registered["id"]]
    ]
    assert desk.every_page("/v1/day-registrations", {"precinct_id": "75-0001"}) == [[]]


def test_a_listed_registration_shows_its_cancellation_request_as_the_single_get_does(
    desk: Desk,
) -> None:
    registered = desk.register()
    asked = desk.client.post(
        f"/v1/day-registrations/{registered['id']}/cancel",
        json={"reason": "wrong desk"},
        headers=desk.auth(Role.OPERATOR),
    )
    assert asked.status_code == 202, asked.text

    listed = desk.client.get("/v1/day-registrations", headers=desk.auth(Role.OPERATOR))

    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    single = desk.client.get(
        f"/v1/day-registrations/{registered['id']}", headers=desk.auth(Role.OPERATOR)
    ).json()
    assert [r["status"] for r in item["cancellation_requests"]] == ["pending"]
    assert item["cancellation_requests"] == single["cancellation_requests"]


def test_time_window_filters_keep_what_lies_strictly_inside(desk: Desk) -> None:
    early = desk.override(RESIDENT)
    desk.clock.instant = ON_THE_DAY + dt.timedelta(hours=1)
    late = desk.override(RESIDENT)
    middle = (ON_THE_DAY + dt.timedelta(minutes=30)).isoformat()

    before = desk.every_page("/v1/overrides", {"created_before": middle})
    after = desk.every_page("/v1/overrides", {"created_after": middle})

    assert (before, after) == ([[early["id"]]], [[late["id"]]])


BAD_LISTING_QUERIES = [
    ("/v1/overrides", {"status": "approved"}, "query.status"),
    ("/v1/overrides", {"kind": "delete"}, "query.kind"),
    ("/v1/overrides", {"created_after": "2027-03-01T00:00:00"}, "query.created_after"),
    ("/v1/overrides", {"created_before": "yesterday"}, "query.created_before"),
    ("/v1/overrides", {"created_before": "0.5"}, "query.created_before"),  # not epoch seconds
    ("/v1/overrides", {"limit": 0}, "query.limit"),
    ("/v1/overrides", {"limit": 1001}, "query.limit"),
    ("/v1/overrides", {"cursor": "!!"}, "query.cursor"),
    ("/v1/overrides", {"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
    ("/v1/overrides", {"precinct_id": "75 0001"}, "query.precinct_id"),
    ("/v1/day-registrations", {"status": "approved"}, "query.status"),
    ("/v1/day-registrations", {"registered_after": "2027-03-21"}, "query.registered_after"),
    ("/v1/day-registrations", {"cursor": "MjAyNy0wMy0yMVQwMjowMDowMHwwYTFi"}, "cursor"),
]


@pytest.mark.parametrize(("path", "params", "field"), BAD_LISTING_QUERIES)
def test_a_bad_filter_is_a_422_problem_naming_the_field(
    desk: Desk, path: str, params: dict[str, Any], field: str
) -> None:
    response = desk.client.get(path, params=params, headers=desk.auth(Role.OPERATOR))

    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "VALIDATION_FAILED"
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_closed_list_refusal_names_the_values_it_takes(desk: Desk) -> None:
    response = desk.client.get(
        "/v1/day-registrations", params={"status": "approved"}, headers=desk.auth(Role.OPERATOR)
    )

    [error] = response.json()["errors"]
    assert error["allowed"] == ["active", "cancelled", "lapsed"]


@pytest.mark.parametrize(
    ("what", "body", "code"),
    [
        ("overrides", {"iin": "900101300127"}, "IIN_CHECKSUM"),
        ("overrides", {"iin": "900101300805"}, "IIN_UNUSABLE"),
        ("overrides", {"iin": RESIDENT, "status": "approved"}, "VALIDATION_FAILED"),
        ("overrides", {"iin": RESIDENT, "surname": "x"}, "VALIDATION_FAILED"),
        ("day-registrations", {"iin": "12345"}, "IIN_FORMAT"),
        ("day-registrations", {"iin": RESIDENT, "limit": 5000}, "VALIDATION_FAILED"),
        ("day-registrations", {"iin": RESIDENT, "registered_after": 0}, "VALIDATION_FAILED"),
        ("day-registrations", {}, "VALIDATION_FAILED"),
    ],
)
def test_a_bad_search_is_a_422_problem_and_is_not_audited(
    desk: Desk, what: str, body: dict[str, Any], code: str
) -> None:
    before = len(desk.audit_bodies())

    response = desk.search(what, body)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert len(desk.audit_bodies()) == before


@pytest.mark.parametrize("what", ["overrides", "day-registrations"])
def test_a_bin_shaped_number_is_searched_like_any_other_and_the_look_up_audited(
    desk: Desk, what: str
) -> None:
    # A person's IIN may have a BIN's digit 5 (SPEC §15): their records must be findable.
    before = len(desk.audit_bodies())

    response = desk.search(what, {"iin": PEOPLE["bin_shaped_person"]["iin"]})

    assert response.status_code == 200, response.text
    assert response.json()["items"] == []
    assert [body["kind"] for body in desk.audit_bodies()[before:]] == [
        f"{what.replace('-', '_').removesuffix('s')}.lookup"
    ]


def test_the_elections_and_precincts_commands_print_what_the_api_serves(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    def make_client(base_url: str, bearer: str, *, language: str) -> ApiClient:
        # The app in this process, reached through the test client's own transport.
        return ApiClient(base_url, bearer, language=language, transport=desk.client._transport)

    monkeypatch.setattr(commands, "make_client", make_client)
    bearer = token(desk.keys, Role.COMMISSION, subject="member@pec", now=desk.clock.now())

    def shown(*args: str) -> Any:
        result = CliRunner().invoke(voterctl, [*args, "--json"], env={"VOTER_TOKEN": bearer})
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def served(path: str) -> Any:
        return desk.client.get(path, headers={"Authorization": f"Bearer {bearer}"}).json()

    assert shown("elections", "list") == served("/v1/elections")
    assert shown("elections", "show", ELECTION_ID) == served(f"/v1/elections/{ELECTION_ID}")
    assert shown("precincts", "list") == served("/v1/precincts")
    assert shown("precincts", "show", "75-0002") == served("/v1/precincts/75-0002")
    table = CliRunner().invoke(voterctl, ["precincts", "list"], env={"VOTER_TOKEN": bearer})
    for precinct in served("/v1/precincts")["items"]:
        assert precinct["id"] in table.stdout
