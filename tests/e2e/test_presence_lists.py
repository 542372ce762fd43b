"""Presence lists of special precincts over HTTP (SPEC §15 way 2): the import, what the
check, Service A and Service B then see, the window, the one place per voter, cancelling by
two operators, and no IIN anywhere but the request."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.api.app import create_app
from service.cli import EXIT_REFUSED
from service.cli import app as voterctl_app
from service.domain.caller import Role
from service.domain.iin import complete_iin
from service.domain.iin_text import holds_iin_shaped
from tests.support import (
    AKIM_ID,
    ELECTION_ID,
    PEOPLE,
    PRECINCTS,
    Keys,
    MovableClock,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    serving,
    token,
    write_country,
)

ALMATY = ZoneInfo("Asia/Almaty")
HOSPITAL = "75-0900"
RESIDENT = PEOPLE["eligible_permanent"]["iin"]
NO_REGISTRATION = PEOPLE["no_registration"]["iin"]
IMPRISONED = PEOPLE["imprisoned"]["iin"]
# Its presence window is moved by the record to close with voting day, so that a presence
# list and a day registration can meet (by default they never do).
LATE_ID = "2027-president-late-lists"
E_MINUS_1 = dt.date(2027, 3, 20)


def _at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=ALMATY)


class Desk:
    def __init__(self, client: TestClient, clock: MovableClock, keys: Keys) -> None:
        self.client = client
        self.clock = clock
        self.keys = keys

    def auth(self, *roles: Role, subject: str = "operator-1@tec", **claims: Any) -> dict[str, str]:
        bearer = token(self.keys, *roles, subject=subject, now=self.clock.now(), **claims)
        return {"Authorization": f"Bearer {bearer}"}

    def presence(
        self,
        iins: list[str],
        *,
        precinct: str = HOSPITAL,
        election: str = ELECTION_ID,
        document_ref: str = "Hospital No. 4, letter 17/03",
    ) -> Any:
        return self.client.post(
            "/v1/presence-lists",
            json={
                "election_id": election,
                "precinct_id": precinct,
                "iins": iins,
                "document_ref": document_ref,
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

    def service_a(self, iin: str, precinct: str) -> dict[str, Any]:
        response = self.client.post(
            "/v1/precinct-checks",
            json={"iin": iin, "election_id": ELECTION_ID, "precinct_id": precinct},
            headers=self.auth(Role.COMMISSION, subject="member@tec", precincts=(precinct,)),
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def register(self, iin: str, election: str = LATE_ID) -> Any:
        headers = self.auth(Role.EGOV, subject="clerk@egov")
        headers["Idempotency-Key"] = f"key-{uuid.uuid4()}"
        return self.client.post(
            "/v1/day-registrations",
            json={"iin": iin, "election_id": election, "precinct_id": "75-0002"},
            headers=headers,
        )

    def override(self, iin: str, *, election: str = ELECTION_ID, kind: str = "assign") -> str:
        """A pending override of ``iin`` (assigning them to 75-0002): its id."""
        created = self.client.post(
            "/v1/overrides",
            json={
                "iin": iin,
                "election_id": election,
                "kind": kind,
                "precinct_id": None if kind == "exclude" else "75-0002",
                "reason_code": "COMMISSION_RESOLUTION",
                "reason_text": "resolution of the commission",
                "document_ref": "resolution 7",
            },
            headers=self.auth(Role.OPERATOR),
        )
        assert created.status_code == 201, created.text
        override_id: str = created.json()["id"]
        return override_id

    def approve(self, override_id: str) -> Any:
        return self.client.post(
            f"/v1/overrides/{override_id}/approve",
            json={},
            headers=self.auth(Role.OPERATOR, subject="checker@tec"),
        )

    def undo(self, path: str, verb: str) -> None:
        asked = self.client.post(
            f"{path}/{verb}", json={"reason": "entered in error"}, headers=self.auth(Role.OPERATOR)
        )
        assert asked.status_code == 202, asked.text
        approved = self.client.post(
            f"{path}/{verb}/approve", json={}, headers=self.auth(Role.OPERATOR, subject="op-2@tec")
        )
        assert approved.status_code == 200, approved.text

    def audit_bodies(self) -> list[dict[str, Any]]:
        page = self.client.get(
            "/v1/audit/entries",
            params={"limit": 1000},
            headers=self.auth(Role.AUDITOR, subject="auditor@cec"),
        )
        assert page.status_code == 200, page.text
        return [json.loads(item["body"]) for item in page.json()["items"]]


def _with_a_hospital_and_a_late_election(directory: Path) -> Any:
    country = write_country(directory)
    hospital = {
        **PRECINCTS[0],
        "id": HOSPITAL,
        "number": 900,
        "name": "City Hospital No. 4",
        "kind": "special",
        "segments": [],
        "buildings": [],
    }
    with country.precincts.open("a", encoding="utf-8") as out:
        out.write(json.dumps(hospital, ensure_ascii=False) + "\n")
    late = {
        "id": LATE_ID,
        "kind": "presidential",
        "voting_day": "2027-03-21",
        "called_on": "2027-01-20",
        "calendar": {"presence_lists": {"opens": "2027-01-20T00:00", "closes": "2027-03-21T20:00"}},
    }
    with country.elections.open("a", encoding="utf-8") as out:
        out.write(json.dumps(late) + "\n")
    return country


@pytest.fixture
def desk(database_url: str, keys: Keys, tmp_path: Path) -> Iterator[Desk]:
    country = _with_a_hospital_and_a_late_election(tmp_path / "country")
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    clock = MovableClock(_at(dt.date(2027, 3, 10), 12))
    with running_app(settings, mock_transports(country), clock=clock) as (_, client):
        yield Desk(client, clock, keys)


def test_the_check_after_a_presence_import_shows_the_special_precinct(desk: Desk) -> None:
    before = desk.check(RESIDENT)
    assert (before["basis"], before["precinct"]["id"]) == ("permanent_registration", "75-0001")

    response = desk.presence([RESIDENT])

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["added"], body["refused"], body["precinct"]["id"]) == (1, 0, HOSPITAL)
    [result] = body["results"]
    assert (result["index"], result["code"], result["holder"]) == (0, None, None)
    after = desk.check(RESIDENT)
    assert (after["outcome"], after["basis"], after["precinct"]["id"]) == (
        "eligible",
        "special_presence",
        HOSPITAL,
    )
    # Service A: on the hospital's list, no longer on the home precinct's.
    assert desk.service_a(RESIDENT, "75-0001")["included"] is False
    assert desk.service_a(RESIDENT, HOSPITAL)["included"] is True
    entry = desk.client.get(
        f"/v1/list-entries/{result['entry_id']}", headers=desk.auth(Role.OPERATOR)
    ).json()
    assert (entry["kind"], entry["status"], entry["precinct"]["id"], entry["document_ref"]) == (
        "special_presence",
        "active",
        HOSPITAL,
        "Hospital No. 4, letter 17/03",
    )
    assert entry["audit"] == result["audit"]


def test_each_position_is_answered_and_none_is_dropped(desk: Desk) -> None:
    broken = RESIDENT[:11] + str((int(RESIDENT[11]) + 1) % 10)
    response = desk.presence([NO_REGISTRATION, broken, "12345", NO_REGISTRATION, IMPRISONED])

    assert response.status_code == 200, response.text
    body = response.json()
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["code"] for r in results] == [
        None,
        "IIN_CHECKSUM",
        "IIN_FORMAT",
        "ALREADY_ON_LIST",
        None,
    ]
    # A voter named twice: the second position names the first one's entry.
    assert results[3]["holder"] == {"kind": "list_entry", "id": results[0]["entry_id"]}
    assert (body["added"], body["refused"]) == (2, 3)
    # The entry does not cure a bar of SPEC §3.
    barred = desk.check(IMPRISONED)
    assert (barred["outcome"], barred["precinct"]) == ("ineligible", None)
    assert [r["code"] for r in barred["reasons"]] == ["IMPRISONED_BY_SENTENCE"]


def test_a_list_of_2000_voters_is_imported_in_one_request(desk: Desk) -> None:
    # Valid IINs of people the registry need not know: the entry is a place, not a decision.
    iins = [iin for n in range(2300) if (iin := complete_iin(f"8001013{n:04d}"))][:2000]
    assert len(iins) == 2000

    response = desk.presence(iins)

    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert (body["added"], body["refused"]) == (2000, 0)
    assert len({r["entry_id"] for r in body["results"]}) == 2000


def test_a_second_import_of_a_listed_voter_is_refused_naming_the_holder(desk: Desk) -> None:
    first = desk.presence([RESIDENT]).json()["results"][0]
    second = desk.presence([RESIDENT], document_ref="Hospital No. 4, letter 18/03").json()
    assert second["results"][0]["code"] == "ALREADY_ON_LIST"
    assert second["results"][0]["holder"] == {"kind": "list_entry", "id": first["entry_id"]}
    assert second["results"][0]["audit"] is not None
    refusals = [b for b in desk.audit_bodies() if b["kind"] == "list_entry.refuse"]
    assert [r["payload"]["holder"]["id"] for r in refusals] == [first["entry_id"]]


def test_a_voter_with_a_day_registration_is_refused_already_on_list(desk: Desk) -> None:
    desk.clock.instant = _at(dt.date(2027, 3, 21), 10)
    registered = desk.register(NO_REGISTRATION)
    assert registered.status_code == 201, registered.text

    response = desk.presence([NO_REGISTRATION], election=LATE_ID)

    [result] = response.json()["results"]
    assert (result["code"], result["entry_id"]) == ("ALREADY_ON_LIST", None)
    assert result["holder"] == {"kind": "day_registration", "id": registered.json()["id"]}


def test_service_b_refuses_a_voter_on_a_presence_list(desk: Desk) -> None:
    desk.clock.instant = _at(dt.date(2027, 3, 21), 10)
    [listed] = desk.presence([NO_REGISTRATION], election=LATE_ID).json()["results"]

    response = desk.register(NO_REGISTRATION)

    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "ALREADY_ON_LIST"
    assert problem["holder"] == {"kind": "list_entry", "id": listed["entry_id"]}


@pytest.mark.parametrize("kind", ["assign", "exclude"])
def test_an_override_holds_the_place_a_presence_list_would_take(desk: Desk, kind: str) -> None:
    """An approved override of any kind holds the voter's one place: the presence list is
    refused naming it; once two operators revoke it, the same list is taken."""
    override_id = desk.override(RESIDENT, kind=kind)
    assert desk.approve(override_id).status_code == 200

    [refused] = desk.presence([RESIDENT]).json()["results"]

    assert (refused["code"], refused["entry_id"]) == ("ALREADY_ON_LIST", None)
    assert refused["holder"] == {"kind": "override", "id": override_id}
    assert desk.check(RESIDENT)["basis"] in ("override", None)
    desk.undo(f"/v1/overrides/{override_id}", "revoke")
    [taken] = desk.presence([RESIDENT]).json()["results"]
    assert (taken["code"], taken["holder"]) == (None, None)
    assert desk.check(RESIDENT)["basis"] == "special_presence"


def test_an_override_is_not_approved_beside_a_presence_entry_until_it_is_cancelled(
    desk: Desk,
) -> None:
    [listed] = desk.presence([RESIDENT]).json()["results"]
    override_id = desk.override(RESIDENT)

    refused = desk.approve(override_id)

    assert (refused.status_code, refused.json()["code"]) == (409, "ALREADY_ON_LIST")
    assert refused.json()["holder"] == {"kind": "list_entry", "id": listed["entry_id"]}
    pending = desk.client.get(f"/v1/overrides/{override_id}", headers=desk.auth(Role.OPERATOR))
    assert pending.json()["status"] == "pending"
    assert desk.check(RESIDENT)["basis"] == "special_presence"
    desk.undo(f"/v1/list-entries/{listed['entry_id']}", "cancel")
    assert desk.approve(override_id).status_code == 200
    after = desk.check(RESIDENT)
    assert (after["basis"], after["precinct"]["id"]) == ("override", "75-0002")


def test_service_b_refuses_a_voter_an_override_places(desk: Desk) -> None:
    desk.clock.instant = _at(dt.date(2027, 3, 21), 10)
    override_id = desk.override(NO_REGISTRATION, election=LATE_ID)
    assert desk.approve(override_id).status_code == 200

    response = desk.register(NO_REGISTRATION)

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "ALREADY_ON_LIST"
    assert response.json()["holder"] == {"kind": "override", "id": override_id}


def test_twenty_concurrent_ways_onto_a_list_for_one_voter_leave_exactly_one(desk: Desk) -> None:
    """Seven presence imports, seven day registrations and six approvals of six pending
    overrides of one voter at once, through the service: one is recorded, every other is
    refused naming it or the active override, none is an error."""
    desk.clock.instant = _at(dt.date(2027, 3, 21), 10)
    pending = [desk.override(NO_REGISTRATION, election=LATE_ID) for _ in range(6)]
    barrier = threading.Barrier(20)

    def attempt(i: int) -> tuple[str, str | None, dict[str, Any] | None]:
        barrier.wait()
        if i % 3 == 2:
            response = desk.approve(pending[i // 3])
            assert response.status_code in (200, 409), response.text
            body = response.json()
            if response.status_code == 200:
                return "override", body["id"], None
            if body["code"] == "OVERRIDE_CONFLICT":
                return (
                    "refused",
                    body["code"],
                    {"kind": "override", "id": body["active_override_id"]},
                )
            return "refused", body["code"], body.get("holder")
        if i % 3 == 1:
            response = desk.register(NO_REGISTRATION)
            assert response.status_code in (201, 409), response.text
            body = response.json()
            if response.status_code == 201:
                return "day_registration", body["id"], None
            return "refused", body["code"], body.get("holder")
        response = desk.presence([NO_REGISTRATION], election=LATE_ID)
        assert response.status_code == 200, response.text
        [result] = response.json()["results"]
        if result["entry_id"] is not None:
            return "list_entry", result["entry_id"], None
        return "refused", result["code"], result["holder"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))

    won = [(kind, record) for kind, record, _ in outcomes if kind != "refused"]
    assert len(won) == 1, outcomes
    [(kind, record)] = won
    refused = [(code, holder) for what, code, holder in outcomes if what == "refused"]
    assert len(refused) == 19
    for code, holder in refused:
        # Service B names its own kind of record with ALREADY_REGISTERED, without a holder.
        assert code in ("ALREADY_ON_LIST", "ALREADY_REGISTERED", "OVERRIDE_CONFLICT")
        if code != "ALREADY_REGISTERED":
            assert holder == {"kind": kind, "id": record}


@pytest.mark.parametrize(
    ("instant", "status"),
    [
        (_at(dt.date(2027, 1, 19), 23, 59, 59), 409),  # before the call
        (_at(dt.date(2027, 1, 20), 0), 200),  # first instant
        (_at(E_MINUS_1, 17, 59, 59), 200),  # last second
        (_at(E_MINUS_1, 18, 0), 409),  # closed
    ],
)
def test_presence_lists_are_accepted_until_18_00_on_e_minus_1_local_time(
    desk: Desk, instant: dt.datetime, status: int
) -> None:
    desk.clock.instant = instant
    response = desk.presence([RESIDENT])
    assert response.status_code == status, response.text
    if status == 409:
        assert response.json()["code"] == "PRESENCE_LISTS_CLOSED"
        assert desk.check(RESIDENT)["basis"] == "permanent_registration"


@pytest.mark.parametrize(
    ("precinct", "election", "status", "code"),
    [
        ("75-0001", ELECTION_ID, 422, "PRECINCT_NOT_SPECIAL"),
        ("75-9999", ELECTION_ID, 404, "PRECINCT_NOT_FOUND"),
        (HOSPITAL, AKIM_ID, 422, "PRECINCT_OUTSIDE_TERRITORY"),
    ],
)
def test_only_a_special_precinct_the_election_is_held_at_takes_a_presence_list(
    desk: Desk, precinct: str, election: str, status: int, code: str
) -> None:
    response = desk.presence([RESIDENT], precinct=precinct, election=election)
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_a_cancelled_entry_returns_the_voter_to_the_home_list(desk: Desk) -> None:
    [result] = desk.presence([RESIDENT]).json()["results"]
    entry = f"/v1/list-entries/{result['entry_id']}"
    asked = desk.client.post(
        f"{entry}/cancel", json={"reason": "discharged"}, headers=desk.auth(Role.OPERATOR)
    )
    assert (asked.status_code, asked.json()["status"]) == (202, "active")
    assert desk.check(RESIDENT)["basis"] == "special_presence"
    own = desk.client.post(f"{entry}/cancel/approve", json={}, headers=desk.auth(Role.OPERATOR))
    assert (own.status_code, own.json()["code"]) == (403, "SELF_CONFIRMATION_FORBIDDEN")

    approved = desk.client.post(
        f"{entry}/cancel/approve", json={}, headers=desk.auth(Role.OPERATOR, subject="op-2@tec")
    )

    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["cancel_reason"]) == (
        "cancelled",
        "discharged",
    )
    assert desk.check(RESIDENT)["precinct"]["id"] == "75-0001"
    # The place is free again: a new presence list may name the voter.
    assert desk.presence([RESIDENT]).json()["added"] == 1


def test_no_iin_in_the_answer_the_audit_or_the_logs(desk: Desk) -> None:
    written = io.StringIO()
    with contextlib.redirect_stderr(written), contextlib.redirect_stdout(written):
        response = desk.presence([RESIDENT, NO_REGISTRATION, RESIDENT])
        [first, *_] = response.json()["results"]
        shown = desk.client.get(
            f"/v1/list-entries/{first['entry_id']}", headers=desk.auth(Role.OPERATOR)
        )
    assert (response.status_code, shown.status_code) == (200, 200)
    logged = written.getvalue()
    assert "http.request" in logged  # the capture saw the service's lines
    assert not holds_iin_shaped(logged)
    bodies = desk.audit_bodies()
    added = [b for b in bodies if b["kind"] == "list_entry.add"]
    assert len(added) == 2
    assert all(b["subject"].startswith("v1:") for b in added)
    # Hashes hold runs of digits of their own: look for the IINs sent.
    audited = json.dumps(bodies)
    for iin in (RESIDENT, NO_REGISTRATION):
        assert iin not in response.text
        assert iin not in shown.text
        assert iin not in audited


# --- voterctl against a running service ---------------------------------------------------------


def test_voterctl_imports_a_presence_list_from_a_file_and_cancels_an_entry(
    database_url: str, keys: Keys, tmp_path: Path
) -> None:
    country = _with_a_hospital_and_a_late_election(tmp_path / "country")
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    clock = MovableClock(_at(dt.date(2027, 3, 10), 12))
    app = create_app(settings, clock=clock, transports=mock_transports(country))
    listed = tmp_path / "present.txt"
    listed.write_text(f"{RESIDENT}\n\n{RESIDENT}\n12345\n", "utf-8")

    def voterctl(subject: str, *args: str) -> Any:
        env = {
            "VOTER_SERVER_URL": url,
            "VOTER_TOKEN": token(keys, Role.OPERATOR, subject=subject, now=clock.now()),
        }
        return CliRunner().invoke(voterctl_app, list(args), env=env)

    with serving(app) as url:
        imported = voterctl(
            "op-1@tec",
            *("presence", "import", "--election", ELECTION_ID, "--precinct", HOSPITAL),
            *("--document-ref", "letter 17/03", str(listed), "--json"),
        )
        # Line 3 names the voter again, line 4 is no IIN: refused, so exit 2.
        assert imported.exit_code == 2, imported.output
        assert RESIDENT not in imported.output
        body = json.loads(imported.stdout)
        assert [r["code"] for r in body["results"]] == [None, "ALREADY_ON_LIST", "IIN_FORMAT"]
        entry_id = body["results"][0]["entry_id"]
        shown = voterctl("op-1@tec", "entries", "show", entry_id)
        assert shown.exit_code == 0, shown.output
        assert "special_presence" in shown.stdout
        asked = voterctl("op-1@tec", "entries", "cancel", entry_id, "--reason", "discharged")
        assert asked.exit_code == 0, asked.output
        approved = voterctl("op-2@tec", "entries", "cancel-approve", entry_id, "--json")
        assert approved.exit_code == 0, approved.output
        assert json.loads(approved.stdout)["status"] == "cancelled"


def test_a_precinct_version_may_not_strand_a_presence_entry(
    desk: Desk, database_url: str, keys: Keys, tmp_path: Path
) -> None:
    # SPEC §16 for the new kind: a presence entry, like a day registration, holds its precinct.
    added = desk.presence([RESIDENT]).json()
    [result] = added["results"]
    entry_id = result["entry_id"]
    env = {
        "VOTER_ENV": "dev",
        "VOTER_DATABASE_URL": database_url,
        "VOTER_AUDIT_SIGNING_KEY": keys.audit_signing,
        "VOTER_AUDIT_HMAC_KEY": "cli-test-hmac-key-0123456789abcdef",
        "VOTER_CLOCK_FIXED": desk.clock.now().isoformat(),
    }
    current = [json.loads(line) for line in (tmp_path / "country" / "precincts.jsonl").open()]

    def import_precincts(rows: list[dict[str, Any]], name: str) -> Any:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        return CliRunner().invoke(voterctl_app, ["import", "precincts", str(path)], env=env)

    removed = import_precincts([p for p in current if p["id"] != HOSPITAL], "removed.jsonl")
    assert removed.exit_code == EXIT_REFUSED, removed.output
    assert f"presence_entry {entry_id} (election {ELECTION_ID} at precinct {HOSPITAL})" in (
        removed.output
    )
    assert "precinct_removed" in removed.output
    assert RESIDENT not in removed.output

    ordinary = [{**p, "kind": "ordinary"} if p["id"] == HOSPITAL else p for p in current]
    demoted = import_precincts(ordinary, "ordinary.jsonl")
    assert demoted.exit_code == EXIT_REFUSED, demoted.output
    assert "no_longer_special" in demoted.output

    # Still the hospital's voter: nothing was imported.
    assert desk.check(RESIDENT)["precinct"]["id"] == HOSPITAL
