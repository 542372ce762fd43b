"""Service B over HTTP: windows in the precinct's zone, refusals, idempotency, the race,
and cancelling by two operators."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from service.domain.caller import Role
from tests.support import (
    ELECTION_2023_ID,
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

VOTING_DAY = dt.date(2027, 3, 21)
NO_REGISTRATION = PEOPLE["no_registration"]["iin"]
ALMATY = ZoneInfo("Asia/Almaty")


def local(zone: str, day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(zone))


class Desk:
    """A service-centre desk: the app, its clock, and tokens for each kind of caller."""

    def __init__(self, client: TestClient, clock: MovableClock, keys: Keys) -> None:
        self.client = client
        self.clock = clock
        self.keys = keys

    def auth(self, role: Role, subject: str = "clerk-1@egov") -> dict[str, str]:
        bearer = token(self.keys, role, subject=subject, now=self.clock.now())
        return {"Authorization": f"Bearer {bearer}"}

    def register(
        self,
        iin: str = NO_REGISTRATION,
        precinct: str = "75-0002",
        *,
        election: str = ELECTION_ID,
        key: str | None = None,
        subject: str = "clerk-1@egov",
    ) -> Any:
        headers = self.auth(Role.EGOV, subject)
        headers["Idempotency-Key"] = key or f"key-{uuid.uuid4()}"
        return self.client.post(
            "/v1/day-registrations",
            json={"iin": iin, "election_id": election, "precinct_id": precinct},
            headers=headers,
        )

    def check(self, iin: str = NO_REGISTRATION) -> dict[str, Any]:
        response = self.client.post(
            "/v1/eligibility/check",
            json={"iin": iin, "election_id": ELECTION_ID},
            headers=self.auth(Role.EGOV),
        )
        assert response.status_code == 200, response.text
        decision: dict[str, Any] = response.json()
        return decision

    def audit_kinds(self) -> Counter[str]:
        items = self.client.get(
            "/v1/audit/entries", params={"limit": 1000}, headers=self.auth(Role.AUDITOR)
        ).json()["items"]
        return Counter(json.loads(e["body"])["kind"] for e in items)


@pytest.fixture
def desk(database_url: str, keys: Keys, country: Country) -> Iterator[Desk]:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    clock = MovableClock(local("Asia/Almaty", VOTING_DAY, 10, 0))
    with running_app(settings, mock_transports(country), clock=clock) as (_, client):
        yield Desk(client, clock, keys)


WINDOW_EDGES = [((6, 59), 409), ((7, 0), 201), ((19, 59), 201), ((20, 0), 409)]


@pytest.mark.parametrize(("when", "status"), WINDOW_EDGES)
@pytest.mark.parametrize(
    ("precinct", "zone", "election", "day"),
    [
        ("75-0002", "Asia/Almaty", ELECTION_ID, VOTING_DAY),
        ("27-0001", "Asia/Oral", ELECTION_ID, VOTING_DAY),
        # In 2023 Almaty was UTC+6 and Oral UTC+5: the same rule, two different instants.
        ("75-0002", "Asia/Almaty", ELECTION_2023_ID, dt.date(2023, 3, 19)),
        ("27-0001", "Asia/Oral", ELECTION_2023_ID, dt.date(2023, 3, 19)),
    ],
)
def test_window_opens_at_seven_and_closes_at_twenty_in_the_precincts_zone(
    desk: Desk,
    precinct: str,
    zone: str,
    election: str,
    day: dt.date,
    when: tuple[int, int],
    status: int,
) -> None:
    desk.clock.instant = local(zone, day, *when)
    response = desk.register(precinct=precinct, election=election)
    assert response.status_code == status, response.text
    if status == 409:
        assert response.json()["code"] == "REGISTRATION_CLOSED"
    else:
        assert response.json()["status"] == "active"


def test_one_instant_is_open_in_almaty_and_closed_in_oral_in_2023(desk: Desk) -> None:
    # 07:30 in Almaty (UTC+6) was 06:30 in Oral (UTC+5) on 2023-03-19.
    desk.clock.instant = local("Asia/Almaty", dt.date(2023, 3, 19), 7, 30)
    closed = desk.register(precinct="27-0001", election=ELECTION_2023_ID)
    assert (closed.status_code, closed.json()["code"]) == (409, "REGISTRATION_CLOSED")
    assert desk.register(precinct="75-0002", election=ELECTION_2023_ID).status_code == 201


@pytest.mark.parametrize("when", [(6, 59), (7, 0), (19, 59), (20, 0)])
def test_foreign_precinct_is_never_designated(desk: Desk, when: tuple[int, int]) -> None:
    desk.clock.instant = local("Europe/London", VOTING_DAY, *when)
    response = desk.register(precinct="99-0001")
    assert response.status_code == 422
    assert response.json()["code"] == "PRECINCT_NOT_DESIGNATED"


def test_precinct_not_designated_is_refused(desk: Desk) -> None:
    response = desk.register(precinct="75-0001")
    assert (response.status_code, response.json()["code"]) == (422, "PRECINCT_NOT_DESIGNATED")


def test_ineligible_voter_is_refused_with_the_reasons(desk: Desk) -> None:
    response = desk.register(PEOPLE["under_18"]["iin"])
    problem = response.json()
    assert (response.status_code, problem["code"]) == (422, "NOT_ELIGIBLE")
    assert [r["code"] for r in problem["reasons"]] == ["UNDER_18"]
    assert problem["audit"]["seq"] >= 1


def test_voter_registered_at_home_is_refused_naming_their_precinct(desk: Desk) -> None:
    response = desk.register(PEOPLE["eligible_permanent"]["iin"])
    problem = response.json()
    assert (response.status_code, problem["code"]) == (409, "HAS_REGISTRATION")
    assert problem["precinct_id"] == "75-0001"


def test_voter_registered_abroad_is_refused(desk: Desk) -> None:
    response = desk.register(PEOPLE["eligible_consular"]["iin"])
    problem = response.json()
    assert (response.status_code, problem["code"]) == (409, "REGISTERED_ABROAD")
    assert problem["precinct_id"] == "99-0001"


def test_second_registration_is_refused_naming_the_first(desk: Desk) -> None:
    first = desk.register()
    assert first.status_code == 201
    second = desk.register(precinct="27-0001")
    assert (second.status_code, second.json()["code"]) == (409, "ALREADY_REGISTERED")
    assert second.json()["registration_id"] == first.json()["id"]
    assert second.json()["precinct_id"] == "75-0002"


def test_eligibility_after_registration_names_that_precinct(desk: Desk) -> None:
    assert desk.check()["precinct"] is None
    desk.register()
    decision = desk.check()
    assert (decision["precinct"]["id"], decision["basis"]) == ("75-0002", "day_registration")
    assert decision["next_steps"] == []


def test_same_key_and_body_replays_the_first_answer(desk: Desk) -> None:
    first = desk.register(key="retry-key-0001")
    again = desk.register(key="retry-key-0001")
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert desk.audit_kinds()["day_registration.create"] == 1


def test_same_key_replays_a_refusal_too(desk: Desk) -> None:
    first = desk.register(PEOPLE["under_18"]["iin"], key="retry-key-0002")
    again = desk.register(PEOPLE["under_18"]["iin"], key="retry-key-0002")
    assert (again.status_code, again.content) == (first.status_code, first.content)


def test_same_key_with_another_body_is_an_idempotency_conflict(desk: Desk) -> None:
    desk.register(key="retry-key-0003")
    other = desk.register(precinct="27-0001", key="retry-key-0003")
    assert (other.status_code, other.json()["code"]) == (409, "IDEMPOTENCY_CONFLICT")


def test_keys_belong_to_the_caller_who_used_them(desk: Desk) -> None:
    mine = desk.register(key="shared-key-0001", subject="clerk-1@egov")
    theirs = desk.register(PEOPLE["under_18"]["iin"], key="shared-key-0001", subject="clerk-2@egov")
    assert mine.status_code == 201
    assert theirs.json()["code"] == "NOT_ELIGIBLE"


def test_missing_idempotency_key_is_400(desk: Desk) -> None:
    response = desk.client.post(
        "/v1/day-registrations",
        json={"iin": NO_REGISTRATION, "election_id": ELECTION_ID, "precinct_id": "75-0002"},
        headers=desk.auth(Role.EGOV),
    )
    assert (response.status_code, response.json()["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")


def _cancel(desk: Desk, registration_id: str, step: str, operator: str, **body: str) -> Any:
    path = f"/v1/day-registrations/{registration_id}/cancel"
    return desk.client.post(
        path if step == "request" else f"{path}/{step}",
        json=body,
        headers=desk.auth(Role.OPERATOR, operator),
    )


def test_a_cancellation_request_leaves_the_registration_active_and_the_voter_held(
    desk: Desk,
) -> None:
    first = desk.register().json()

    requested = _cancel(desk, first["id"], "request", "operator-a@tec", reason="wrong desk")

    assert requested.status_code == 202, requested.text
    body = requested.json()
    assert (body["status"], body["cancelled_at"]) == ("active", None)
    [pending] = body["cancellation_requests"]
    assert (pending["status"], pending["requested_by"], pending["reason"]) == (
        "pending",
        "operator-a@tec",
        "wrong desk",
    )
    shown = desk.client.get(
        f"/v1/day-registrations/{first['id']}", headers=desk.auth(Role.OPERATOR, "op@tec")
    ).json()
    assert shown["cancellation_requests"] == body["cancellation_requests"]
    assert desk.check()["basis"] == "day_registration"
    again = desk.register(precinct="27-0001")
    assert (again.status_code, again.json()["code"]) == (409, "ALREADY_REGISTERED")
    twice = _cancel(desk, first["id"], "request", "operator-b@tec", reason="me too")
    assert (twice.status_code, twice.json()["code"]) == (409, "UNDO_PENDING")


def test_a_second_operator_approves_the_cancellation_and_the_voter_may_register_again(
    desk: Desk,
) -> None:
    first = desk.register().json()
    _cancel(desk, first["id"], "request", "operator-a@tec", reason="registered at the wrong desk")

    own = _cancel(desk, first["id"], "approve", "operator-a@tec")
    assert (own.status_code, own.json()["code"]) == (403, "SELF_CONFIRMATION_FORBIDDEN")
    assert desk.check()["basis"] == "day_registration"

    cancel = _cancel(desk, first["id"], "approve", "operator-b@tec")
    assert cancel.status_code == 200, cancel.text
    body = cancel.json()
    assert (body["status"], body["cancelled_by"], body["cancel_reason"]) == (
        "cancelled",
        "operator-b@tec",
        "registered at the wrong desk",
    )
    assert [(r["status"], r["decided_by"]) for r in body["cancellation_requests"]] == [
        ("approved", "operator-b@tec")
    ]
    assert desk.check()["precinct"] is None
    again = desk.register(precinct="27-0001")
    assert again.status_code == 201
    assert desk.check()["precinct"]["id"] == "27-0001"
    twice = _cancel(desk, first["id"], "request", "operator-a@tec", reason="again")
    assert (twice.status_code, twice.json()["code"]) == (409, "REGISTRATION_NOT_ACTIVE")
    kinds = desk.audit_kinds()
    assert (kinds["day_registration.cancel.request"], kinds["day_registration.cancel"]) == (1, 1)


def test_a_refused_cancellation_keeps_the_registration_active(desk: Desk) -> None:
    first = desk.register().json()
    _cancel(desk, first["id"], "request", "operator-a@tec", reason="wrong desk")

    refused = _cancel(desk, first["id"], "refuse", "operator-b@tec", reason="the desk was right")

    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "active"
    [request] = refused.json()["cancellation_requests"]
    assert (request["status"], request["decision_reason"]) == ("refused", "the desk was right")
    assert desk.check()["basis"] == "day_registration"
    assert desk.register(precinct="27-0001").json()["code"] == "ALREADY_REGISTERED"
    late = _cancel(desk, first["id"], "approve", "operator-c@tec")
    assert (late.status_code, late.json()["code"]) == (409, "UNDO_NOT_PENDING")
    assert desk.audit_kinds()["day_registration.cancel.refuse"] == 1


def test_an_approval_naming_the_request_reviewed_never_applies_to_a_newer_one(
    desk: Desk,
) -> None:
    first = desk.register().json()
    reviewed = _cancel(desk, first["id"], "request", "operator-a@tec", reason="wrong desk")
    reviewed_id = reviewed.json()["cancellation_requests"][0]["id"]
    _cancel(desk, first["id"], "refuse", "operator-a@tec", reason="withdrawn")
    newer = _cancel(desk, first["id"], "request", "operator-a@tec", reason="another story")
    newer_id = newer.json()["cancellation_requests"][-1]["id"]

    stale = _cancel(desk, first["id"], "approve", "operator-b@tec", undo_request_id=reviewed_id)

    assert (stale.status_code, stale.json()["code"]) == (409, "UNDO_NOT_PENDING")
    assert stale.json()["undo_request_id"] == newer_id
    assert desk.check()["basis"] == "day_registration"
    current = _cancel(desk, first["id"], "approve", "operator-b@tec", undo_request_id=newer_id)
    assert current.status_code == 200, current.text
    assert current.json()["status"] == "cancelled"


def test_operators_approving_one_cancellation_at_once_cancel_it_once(desk: Desk) -> None:
    first = desk.register().json()
    _cancel(desk, first["id"], "request", "operator-a@tec", reason="wrong desk")

    def approve(i: int) -> tuple[int, str | None]:
        response = _cancel(desk, first["id"], "approve", f"operator-{i}@tec")
        return response.status_code, response.json().get("code")

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(approve, range(4)))

    assert sorted(results, key=str) == sorted(
        [(200, None)] + [(409, "UNDO_NOT_PENDING")] * 3, key=str
    )
    assert desk.audit_kinds()["day_registration.cancel"] == 1


def test_only_operators_cancel(desk: Desk) -> None:
    first = desk.register().json()
    response = desk.client.post(
        f"/v1/day-registrations/{first['id']}/cancel",
        json={"reason": "x"},
        headers=desk.auth(Role.EGOV),
    )
    assert response.status_code == 403


def test_egov_reads_only_its_own_registrations(desk: Desk) -> None:
    created = desk.register(subject="clerk-1@egov").json()
    path = f"/v1/day-registrations/{created['id']}"
    assert desk.client.get(path, headers=desk.auth(Role.EGOV, "clerk-1@egov")).status_code == 200
    other = desk.client.get(path, headers=desk.auth(Role.EGOV, "clerk-2@egov"))
    assert (other.status_code, other.json()["code"]) == (404, "REGISTRATION_NOT_FOUND")
    assert desk.client.get(path, headers=desk.auth(Role.OPERATOR, "op@tec")).status_code == 200


def test_registration_lapses_at_local_midnight_after_voting_day(desk: Desk) -> None:
    created = desk.register().json()
    lapse = local("Asia/Almaty", VOTING_DAY + dt.timedelta(days=1), 0, 0)
    assert dt.datetime.fromisoformat(created["lapses_at"]) == lapse
    desk.clock.instant = lapse - dt.timedelta(seconds=1)
    path = f"/v1/day-registrations/{created['id']}"
    assert desk.client.get(path, headers=desk.auth(Role.EGOV)).json()["status"] == "active"
    assert desk.check()["basis"] == "day_registration"
    desk.clock.instant = lapse
    assert desk.client.get(path, headers=desk.auth(Role.EGOV)).json()["status"] == "lapsed"
    assert desk.check()["basis"] is None


def test_twenty_concurrent_registrations_of_one_voter_let_exactly_one_through(
    desk: Desk,
) -> None:
    def attempt(i: int) -> tuple[int, str | None]:
        response = desk.register(key=f"race-key-{i:04d}", subject=f"clerk-{i}@egov")
        body = response.json()
        return response.status_code, body.get("code")

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(attempt, range(20)))
    assert sorted(results, key=str) == sorted(
        [(201, None)] + [(409, "ALREADY_REGISTERED")] * 19, key=str
    )
    kinds = desk.audit_kinds()
    assert kinds["day_registration.create"] == 1
    assert kinds["day_registration.refuse"] == 19
