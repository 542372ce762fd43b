"""Absentee certificates over HTTP (SPEC §15 way 4): issue, the window in the home
precinct's zone, one per voter and election ever, serials, what the check and Service A then
say, the one use (also under 20 concurrent presentations), cancelling by two operators, and
no IIN anywhere but the request."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.api.app import create_app
from service.cli import app as voterctl_app
from service.domain.caller import Role
from service.domain.iin_text import holds_iin_shaped
from service.operator.commands import EXIT_API_REFUSED
from tests.support import (
    ELECTION_ID,
    MASLIKHAT_ID,
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
LONDON = ZoneInfo("Europe/London")
RESIDENT = PEOPLE["eligible_permanent"]["iin"]  # home precinct 75-0001
TEMPORARY = PEOPLE["eligible_temporary"]["iin"]  # home precinct 75-0002
CONSULAR = PEOPLE["eligible_consular"]["iin"]  # home precinct 99-0001, London
NO_REGISTRATION = PEOPLE["no_registration"]["iin"]
IMPRISONED = PEOPLE["imprisoned"]["iin"]
HOME = "75-0001"
SAME_KATO = "75-0002"  # 751110000, like the home precinct
OTHER_ALMATY_DISTRICT = "75-0003"  # 751210000: another district of the same city
ORAL = "27-0001"
LONDON_MISSION = "99-0001"
HOSPITAL = "75-0900"
# Twenty precincts in twenty towns of the Almaty region (KATO 19...), none the home locality.
TOWNS = [f"19-{n:04d}" for n in range(1, 21)]
E = dt.date(2027, 3, 21)


def _at(day: dt.date, hour: int, minute: int = 0, second: int = 0, zone: ZoneInfo = ALMATY) -> Any:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=zone)


def _precinct(precinct_id: str, number: int, kato: str, **fields: Any) -> dict[str, Any]:
    return {
        **PRECINCTS[0],
        "id": precinct_id,
        "number": number,
        "name": f"School No. {number}",
        "kato": kato,
        "segments": [],
        "buildings": [],
        **fields,
    }


def _country(directory: Path) -> Any:
    country = write_country(directory)
    extra = [
        _precinct(OTHER_ALMATY_DISTRICT, 3, "751210000"),
        _precinct(HOSPITAL, 900, "751110000", kind="special", name="City Hospital No. 4"),
        *(_precinct(town, 100 + n, f"19{11 + n:02d}10000") for n, town in enumerate(TOWNS)),
    ]
    with country.precincts.open("a", encoding="utf-8") as out:
        for precinct in extra:
            out.write(json.dumps(precinct, ensure_ascii=False) + "\n")
    return country


class Desk:
    def __init__(self, client: TestClient, clock: MovableClock, keys: Keys) -> None:
        self.client = client
        self.clock = clock
        self.keys = keys

    def auth(self, *roles: Role, subject: str = "operator-1@tec", **claims: Any) -> dict[str, str]:
        bearer = token(self.keys, *roles, subject=subject, now=self.clock.now(), **claims)
        return {"Authorization": f"Bearer {bearer}"}

    def issue(self, iin: str, election: str = ELECTION_ID) -> Any:
        return self.client.post(
            "/v1/absentee-certificates",
            json={"election_id": election, "iin": iin, "document_ref": "application 12/03"},
            headers=self.auth(Role.OPERATOR),
        )

    def issued(self, iin: str, election: str = ELECTION_ID) -> dict[str, Any]:
        response = self.issue(iin, election)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def check(self, iin: str, election: str = ELECTION_ID) -> dict[str, Any]:
        response = self.client.post(
            "/v1/eligibility/check",
            json={"iin": iin, "election_id": election},
            headers=self.auth(Role.EGOV, subject="clerk@egov"),
        )
        assert response.status_code == 200, response.text
        decision: dict[str, Any] = response.json()
        return decision

    def service_a(self, iin: str, precinct: str, election: str = ELECTION_ID) -> Any:
        return self.client.post(
            "/v1/precinct-checks",
            json={"iin": iin, "election_id": election, "precinct_id": precinct},
            headers=self.auth(Role.COMMISSION, subject="member@tec", precincts=(precinct,)),
        )

    def at(self, iin: str, precinct: str) -> dict[str, Any]:
        response = self.service_a(iin, precinct)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def cancel(self, certificate_id: str, *, approver: str = "op-2@tec") -> Any:
        path = f"/v1/absentee-certificates/{certificate_id}"
        asked = self.client.post(
            f"{path}/cancel", json={"reason": "voter stays home"}, headers=self.auth(Role.OPERATOR)
        )
        if asked.status_code != 202:
            return asked
        return self.client.post(
            f"{path}/cancel/approve", json={}, headers=self.auth(Role.OPERATOR, subject=approver)
        )

    def audit_bodies(self) -> list[dict[str, Any]]:
        page = self.client.get(
            "/v1/audit/entries",
            params={"limit": 1000},
            headers=self.auth(Role.AUDITOR, subject="auditor@cec"),
        )
        assert page.status_code == 200, page.text
        return [json.loads(item["body"]) for item in page.json()["items"]]

    def kinds(self) -> list[str]:
        return [b["kind"] for b in self.audit_bodies()]


@pytest.fixture
def desk(database_url: str, keys: Keys, tmp_path: Path) -> Iterator[Desk]:
    country = _country(tmp_path / "country")
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    clock = MovableClock(_at(dt.date(2027, 3, 10), 12))
    with running_app(settings, mock_transports(country), clock=clock) as (_, client):
        yield Desk(client, clock, keys)


# --- issue -------------------------------------------------------------------------------------


def test_a_certificate_takes_the_voter_off_the_home_list(desk: Desk) -> None:
    before = desk.check(RESIDENT)
    assert (before["basis"], before["precinct"]["id"]) == ("permanent_registration", HOME)

    certificate = desk.issued(RESIDENT)

    assert certificate["serial"] == "00001"
    assert certificate["issued_by"]["id"] == HOME
    assert (certificate["status"], certificate["used_at_precinct"]) == ("active", None)
    after = desk.check(RESIDENT)
    assert (after["outcome"], after["basis"], after["precinct"]) == (
        "eligible",
        "absentee_certificate",
        None,
    )
    assert [s["code"] for s in after["next_steps"]] == ["VOTE_WITH_ABSENTEE_CERTIFICATE"]
    assert "absentee_certificate.issue" in desk.kinds()
    # A certificate is a list entry of its kind, its precinct the issuing one.
    entry = desk.client.get(
        f"/v1/list-entries/{certificate['id']}", headers=desk.auth(Role.OPERATOR)
    )
    assert (entry.json()["kind"], entry.json()["precinct"]["id"]) == ("absentee_certificate", HOME)


def test_serials_are_five_digits_counted_per_election(desk: Desk) -> None:
    first = desk.issued(RESIDENT)
    second = desk.issued(TEMPORARY)
    other_election = desk.issued(RESIDENT, MASLIKHAT_ID)

    assert (first["serial"], second["serial"]) == ("00001", "00002")
    assert second["issued_by"]["id"] == SAME_KATO
    assert other_election["serial"] == "00001"


def test_concurrent_issues_to_eight_voters_take_eight_serials(desk: Desk) -> None:
    """Issues racing for the next free serial: each voter gets one, none shares a number
    (on PostgreSQL the loser of a collision runs again and takes the next)."""
    voters = [
        PEOPLE[name]["iin"]
        for name in (
            "eligible_permanent",
            "eligible_temporary",
            "eligible_consular",
            "pretrial",
            "birthday_on_voting_day",
            "sentence_ended",
            "capacity_restored",
            "bin_shaped_person",
        )
    ]
    barrier = threading.Barrier(len(voters))

    def issue(iin: str) -> Any:
        barrier.wait()
        return desk.issue(iin)

    with ThreadPoolExecutor(max_workers=len(voters)) as pool:
        responses = list(pool.map(issue, voters))

    assert [r.status_code for r in responses] == [201] * len(voters), [r.text for r in responses]
    serials = sorted(r.json()["serial"] for r in responses)
    assert serials == [f"{n:05d}" for n in range(1, len(voters) + 1)]


def test_a_certificate_is_issued_once_per_voter_and_election_even_after_cancellation(
    desk: Desk,
) -> None:
    certificate = desk.issued(RESIDENT)
    again = desk.issue(RESIDENT)
    assert (again.status_code, again.json()["code"]) == (409, "ABSENTEE_CERTIFICATE_ALREADY_ISSUED")
    assert again.json()["certificate_id"] == certificate["id"]

    cancelled = desk.cancel(certificate["id"])
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert desk.check(RESIDENT)["precinct"]["id"] == HOME  # back on the home list

    lost = desk.issue(RESIDENT)
    assert (lost.status_code, lost.json()["code"]) == (409, "ABSENTEE_CERTIFICATE_ALREADY_ISSUED")
    assert lost.json()["audit"]["seq"] > 0  # the refusal is audited
    assert desk.check(RESIDENT)["precinct"]["id"] == HOME


@pytest.mark.parametrize(
    ("iin", "status", "code"),
    [
        (IMPRISONED, 422, "NOT_ELIGIBLE"),
        (NO_REGISTRATION, 422, "NOT_ON_A_LIST"),
    ],
)
def test_only_an_eligible_voter_on_a_list_gets_a_certificate(
    desk: Desk, iin: str, status: int, code: str
) -> None:
    response = desk.issue(iin)
    assert (response.status_code, response.json()["code"]) == (status, code)
    if code == "NOT_ELIGIBLE":
        assert [r["code"] for r in response.json()["reasons"]] == ["IMPRISONED_BY_SENTENCE"]
    assert "absentee_certificate.refuse" in desk.kinds()


def test_a_voter_on_a_presence_list_is_refused_naming_the_entry(desk: Desk) -> None:
    imported = desk.client.post(
        "/v1/presence-lists",
        json={
            "election_id": ELECTION_ID,
            "precinct_id": HOSPITAL,
            "iins": [RESIDENT],
            "document_ref": "Hospital No. 4, letter 17/03",
        },
        headers=desk.auth(Role.OPERATOR),
    )
    [result] = imported.json()["results"]

    response = desk.issue(RESIDENT)

    assert (response.status_code, response.json()["code"]) == (409, "ALREADY_ON_LIST")
    assert response.json()["holder"] == {"kind": "list_entry", "id": result["entry_id"]}
    assert desk.check(RESIDENT)["basis"] == "special_presence"


@pytest.mark.parametrize(
    ("instant", "status"),
    [
        (_at(E - dt.timedelta(days=16), 23, 59, 59), 409),  # before
        (_at(E - dt.timedelta(days=15), 0), 201),  # first instant
        (_at(E - dt.timedelta(days=1), 17, 59, 59), 201),  # last second
        (_at(E - dt.timedelta(days=1), 18, 0), 409),  # after
    ],
    ids=["before", "first-instant", "last-instant", "after"],
)
def test_certificates_are_issued_from_00_00_on_e_minus_15_until_18_00_on_e_minus_1(
    desk: Desk, instant: dt.datetime, status: int
) -> None:
    desk.clock.instant = instant
    response = desk.issue(RESIDENT)
    assert response.status_code == status, response.text
    if status == 409:
        body = response.json()
        assert body["code"] == "ABSENTEE_CERTIFICATES_CLOSED"
        assert (body["opens_at"], body["closes_at"]) == (
            "2027-03-05T19:00:00+00:00",
            "2027-03-20T13:00:00+00:00",
        )
        assert desk.check(RESIDENT)["basis"] == "permanent_registration"


def test_the_window_is_read_in_the_home_precincts_zone(desk: Desk) -> None:
    """17:59:59 in London on E-1 is 22:59:59 in Almaty: the mission's voter still gets one,
    the Almaty voter no longer does."""
    desk.clock.instant = _at(E - dt.timedelta(days=1), 17, 59, 59, zone=LONDON)

    consular = desk.issue(CONSULAR)
    resident = desk.issue(RESIDENT)

    assert consular.status_code == 201, consular.text
    assert consular.json()["issued_by"]["id"] == LONDON_MISSION
    assert (resident.status_code, resident.json()["code"]) == (409, "ABSENTEE_CERTIFICATES_CLOSED")
    desk.clock.instant = _at(E - dt.timedelta(days=1), 18, 0, zone=LONDON)
    assert desk.issue(TEMPORARY).json()["code"] == "ABSENTEE_CERTIFICATES_CLOSED"


def test_the_maslikhat_calendar_moves_the_window(desk: Desk) -> None:
    # Its record sets the certificates window to close at 20:00 on E-1.
    desk.clock.instant = _at(E - dt.timedelta(days=1), 19, 59, 59)
    assert desk.issue(RESIDENT, MASLIKHAT_ID).status_code == 201
    assert desk.issue(RESIDENT).json()["code"] == "ABSENTEE_CERTIFICATES_CLOSED"


# --- Service A: where a certificate is presented --------------------------------------------------


@pytest.mark.parametrize(
    ("precinct", "code"),
    [
        (HOME, "ABSENTEE_CERTIFICATE_ISSUED"),
        (SAME_KATO, "ABSENTEE_SAME_LOCALITY"),
        (OTHER_ALMATY_DISTRICT, "ABSENTEE_SAME_LOCALITY"),
    ],
    ids=["home", "same-kato", "same-city"],
)
def test_service_a_refuses_the_certificate_at_home_and_in_the_home_locality(
    desk: Desk, precinct: str, code: str
) -> None:
    certificate = desk.issued(RESIDENT)

    answer = desk.at(RESIDENT, precinct)

    assert (answer["included"], [r["code"] for r in answer["reasons"]]) == (False, [code])
    assert answer["reasons"][0]["message"]
    assert "absentee_certificate.use" not in desk.kinds()
    shown = desk.client.get(
        f"/v1/absentee-certificates/{certificate['id']}", headers=desk.auth(Role.OPERATOR)
    )
    assert shown.json()["status"] == "active"


def test_a_certificate_is_used_once_outside_the_home_locality(desk: Desk) -> None:
    certificate = desk.issued(RESIDENT)

    used = desk.at(RESIDENT, ORAL)

    assert (used["included"], used["reasons"], used["basis"]) == (
        True,
        [],
        "absentee_certificate",
    )
    assert used["belongs_to"]["id"] == ORAL
    after = desk.check(RESIDENT)
    assert (after["basis"], after["precinct"]["id"], after["next_steps"]) == (
        "absentee_certificate",
        ORAL,
        [],
    )
    # Checked there again: still on that list, and no second use is recorded.
    assert desk.at(RESIDENT, ORAL)["included"] is True
    assert desk.kinds().count("absentee_certificate.use") == 1
    # Anywhere else: used.
    elsewhere = desk.at(RESIDENT, LONDON_MISSION)
    assert (elsewhere["included"], [r["code"] for r in elsewhere["reasons"]]) == (
        False,
        ["ABSENTEE_CERTIFICATE_USED"],
    )
    assert elsewhere["belongs_to"]["id"] == ORAL
    # At home: issued there, the voter is off its list.
    assert [r["code"] for r in desk.at(RESIDENT, HOME)["reasons"]] == [
        "ABSENTEE_CERTIFICATE_ISSUED"
    ]
    shown = desk.client.get(
        f"/v1/absentee-certificates/{certificate['id']}", headers=desk.auth(Role.OPERATOR)
    ).json()
    assert (shown["status"], shown["used_at_precinct"]["id"]) == ("used", ORAL)
    # A used certificate is not cancelled: the voter is on Oral's list.
    refused = desk.cancel(certificate["id"])
    assert (refused.status_code, refused.json()["code"]) == (409, "ABSENTEE_CERTIFICATE_USED")


def test_a_mission_takes_a_certificate_issued_at_home(desk: Desk) -> None:
    desk.issued(RESIDENT)
    answer = desk.at(RESIDENT, LONDON_MISSION)
    assert (answer["included"], answer["belongs_to"]["id"]) == (True, LONDON_MISSION)


def test_twenty_precincts_presented_one_certificate_at_once_record_one_use(desk: Desk) -> None:
    certificate = desk.issued(RESIDENT)
    barrier = threading.Barrier(20)

    def present(precinct: str) -> tuple[str, bool, list[str]]:
        barrier.wait()
        answer = desk.at(RESIDENT, precinct)
        return precinct, answer["included"], [r["code"] for r in answer["reasons"]]

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(present, TOWNS))

    included = [precinct for precinct, yes, _ in answers if yes]
    assert len(included) == 1, answers
    assert all(
        codes == ["ABSENTEE_CERTIFICATE_USED"] for precinct, yes, codes in answers if not yes
    )
    assert desk.kinds().count("absentee_certificate.use") == 1
    shown = desk.client.get(
        f"/v1/absentee-certificates/{certificate['id']}", headers=desk.auth(Role.OPERATOR)
    ).json()
    assert shown["used_at_precinct"]["id"] == included[0]
    assert desk.check(RESIDENT)["precinct"]["id"] == included[0]


def test_an_exclusion_waits_for_the_certificate_to_be_cancelled_and_then_wins(desk: Desk) -> None:
    """A certificate holds the voter's one place on a list: an exclusion cannot be approved
    beside it (ALREADY_ON_LIST naming the certificate). Once two operators cancel the
    certificate it can, and the voter is then added nowhere."""
    certificate = desk.issued(RESIDENT)
    created = desk.client.post(
        "/v1/overrides",
        json={
            "iin": RESIDENT,
            "election_id": ELECTION_ID,
            "kind": "exclude",
            "reason_code": "COURT_DECISION",
            "reason_text": "court ruling",
            "document_ref": "case 2-17/2027",
        },
        headers=desk.auth(Role.OPERATOR),
    )
    assert created.status_code == 201, created.text

    def approve() -> Any:
        return desk.client.post(
            f"/v1/overrides/{created.json()['id']}/approve",
            json={},
            headers=desk.auth(Role.OPERATOR, subject="op-2@tec"),
        )

    refused = approve()
    assert (refused.status_code, refused.json()["code"]) == (409, "ALREADY_ON_LIST")
    assert refused.json()["holder"] == {"kind": "list_entry", "id": certificate["id"]}
    assert desk.check(RESIDENT)["basis"] == "absentee_certificate"

    assert desk.cancel(certificate["id"]).status_code == 200
    approved = approve()
    assert approved.status_code == 200, approved.text

    answer = desk.at(RESIDENT, ORAL)

    assert answer["included"] is False
    assert "absentee_certificate.use" not in desk.kinds()


# --- cancellation --------------------------------------------------------------------------------


def test_cancelling_an_unused_certificate_takes_two_operators(desk: Desk) -> None:
    certificate = desk.issued(RESIDENT)
    path = f"/v1/absentee-certificates/{certificate['id']}"
    asked = desk.client.post(
        f"{path}/cancel", json={"reason": "stays home"}, headers=desk.auth(Role.OPERATOR)
    )
    assert (asked.status_code, asked.json()["status"]) == (202, "active")
    assert asked.json()["cancellation_requests"][0]["status"] == "pending"
    own = desk.client.post(f"{path}/cancel/approve", json={}, headers=desk.auth(Role.OPERATOR))
    assert (own.status_code, own.json()["code"]) == (403, "SELF_CONFIRMATION_FORBIDDEN")
    assert desk.check(RESIDENT)["basis"] == "absentee_certificate"

    approved = desk.client.post(
        f"{path}/cancel/approve", json={}, headers=desk.auth(Role.OPERATOR, subject="op-2@tec")
    )

    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["cancel_reason"]) == (
        "cancelled",
        "stays home",
    )
    assert desk.check(RESIDENT)["precinct"]["id"] == HOME
    assert desk.at(RESIDENT, HOME)["included"] is True
    # No longer a certificate holder: Oral is not the voter's list.
    assert [r["code"] for r in desk.at(RESIDENT, ORAL)["reasons"]] == ["NOT_IN_PRECINCT"]


def test_an_unknown_certificate_is_404(desk: Desk) -> None:
    response = desk.client.get(
        "/v1/absentee-certificates/00000000-0000-0000-0000-000000000001",
        headers=desk.auth(Role.OPERATOR),
    )
    assert (response.status_code, response.json()["code"]) == (
        404,
        "ABSENTEE_CERTIFICATE_NOT_FOUND",
    )


# --- privacy ----------------------------------------------------------------------------------


def test_no_iin_in_the_answers_the_audit_or_the_logs(desk: Desk) -> None:
    written = io.StringIO()
    with contextlib.redirect_stderr(written), contextlib.redirect_stdout(written):
        issued = desk.issue(RESIDENT)
        refused = desk.issue(RESIDENT)
        shown = desk.client.get(
            f"/v1/absentee-certificates/{issued.json()['id']}", headers=desk.auth(Role.OPERATOR)
        )
        used = desk.service_a(RESIDENT, ORAL)
        closed = desk.issue(IMPRISONED)
    logged = written.getvalue()
    assert "http.request" in logged  # the capture saw the service's lines
    assert not holds_iin_shaped(logged)
    bodies = desk.audit_bodies()
    mine = [b for b in bodies if b["kind"].startswith("absentee_certificate.")]
    assert {b["kind"] for b in mine} == {
        "absentee_certificate.issue",
        "absentee_certificate.refuse",
        "absentee_certificate.use",
    }
    assert all(b["subject"].startswith("v1:") for b in mine)
    audited = json.dumps(bodies)
    for response in (issued, refused, shown, used, closed):
        for iin in (RESIDENT, IMPRISONED):
            assert iin not in response.text
    for iin in (RESIDENT, IMPRISONED):
        assert iin not in audited


# --- voterctl against a running service ---------------------------------------------------------


def test_voterctl_issues_shows_and_cancels_a_certificate_reading_the_iin_from_a_file(
    database_url: str, keys: Keys, tmp_path: Path
) -> None:
    country = _country(tmp_path / "country")
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    clock = MovableClock(_at(dt.date(2027, 3, 10), 12))
    app = create_app(settings, clock=clock, transports=mock_transports(country))
    voter_file = tmp_path / "voter.txt"
    voter_file.write_text(f"{RESIDENT}\n", "utf-8")

    def voterctl(subject: str, *args: str, stdin: str | None = None) -> Any:
        env = {
            "VOTER_SERVER_URL": url,
            "VOTER_TOKEN": token(keys, Role.OPERATOR, subject=subject, now=clock.now()),
        }
        return CliRunner().invoke(voterctl_app, list(args), env=env, input=stdin)

    with serving(app) as url:
        issued = voterctl(
            "op-1@tec",
            *("certificates", "issue", "--election", ELECTION_ID),
            *("--iin-file", str(voter_file), "--document-ref", "application 12/03", "--json"),
        )
        assert issued.exit_code == 0, issued.output
        body = json.loads(issued.stdout)
        assert (body["serial"], body["status"]) == ("00001", "active")
        # Again, from standard input: refused, never re-issued.
        again = voterctl(
            "op-1@tec",
            *("certificates", "issue", "--election", ELECTION_ID, "--iin-file", "-"),
            *("--document-ref", "application 12/04"),
            stdin=f"{RESIDENT}\n",
        )
        assert again.exit_code == EXIT_API_REFUSED, again.output
        assert "ABSENTEE_CERTIFICATE_ALREADY_ISSUED" in again.output
        shown = voterctl("op-1@tec", "certificates", "show", body["id"])
        assert shown.exit_code == 0, shown.output
        assert "00001" in shown.stdout
        asked = voterctl("op-1@tec", "certificates", "cancel", body["id"], "--reason", "stays")
        assert asked.exit_code == 0, asked.output
        approved = voterctl("op-2@tec", "certificates", "cancel-approve", body["id"], "--json")
        assert approved.exit_code == 0, approved.output
        assert json.loads(approved.stdout)["status"] == "cancelled"
        for result in (issued, again, shown, asked, approved):
            assert RESIDENT not in result.output


def test_a_precinct_version_may_not_strand_a_certificate(
    desk: Desk, database_url: str, keys: Keys, tmp_path: Path
) -> None:
    """SPEC §16: an unused certificate holds its home precinct, a used one the precinct
    where it was presented; neither may be removed under it. The home precinct turning
    special is no blocker (that rule is the presence entries')."""
    certificate = desk.issued(RESIDENT)
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

    home_removed = import_precincts([p for p in current if p["id"] != HOME], "no-home.jsonl")
    assert home_removed.exit_code == 2, home_removed.output
    assert f"absentee_certificate {certificate['id']}" in home_removed.output
    assert "precinct_removed" in home_removed.output
    assert RESIDENT not in home_removed.output

    assert desk.at(RESIDENT, ORAL)["included"] is True
    oral_removed = import_precincts([p for p in current if p["id"] != ORAL], "no-oral.jsonl")
    assert oral_removed.exit_code == 2, oral_removed.output
    assert f"absentee_certificate {certificate['id']}" in oral_removed.output
    # The home precinct no longer holds it: a version without it goes through.
    home_gone = import_precincts([p for p in current if p["id"] != HOME], "no-home-2.jsonl")
    assert home_gone.exit_code == 0, home_gone.output
