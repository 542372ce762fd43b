"""Per-subject rate limits and bulk-read alarms over HTTP (SPEC §12)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.domain.caller import Role
from service.domain.limits import ROLE_LIMITS
from tests.support import (
    ELECTION_ID,
    PEOPLE,
    Country,
    Keys,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
)


def _bearer(keys: Keys, *roles: Role, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(keys, *roles, subject=subject)}"}


def _check(client: TestClient, headers: dict[str, str], iin: str) -> httpx.Response:
    return client.post(
        "/v1/eligibility/check", json={"iin": iin, "election_id": ELECTION_ID}, headers=headers
    )


def _metric(client: TestClient, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    raise AssertionError(f"{name} {labels} not exported")


def _events(captured: pytest.CaptureFixture[str], event: str) -> list[dict[str, object]]:
    out, err = captured.readouterr()
    lines = [line for line in (out + err).splitlines() if line.startswith("{")]
    return [record for record in map(json.loads, lines) if record.get("event") == event]


def test_the_fourth_request_in_a_minute_is_refused_with_retry_after_and_others_are_unaffected(
    database_url: str, keys: Keys, country: Country, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(database_url, keys, rate_limit_per_minute=3)
    load_reference(settings, country)
    iin = PEOPLE["eligible_permanent"]["iin"]
    walker = _bearer(keys, Role.EGOV, subject="walker@egov")
    with running_app(settings, mock_transports(country)) as (_, client):
        admitted = [_check(client, walker, iin).status_code for _ in range(3)]
        refused = _check(client, walker, iin)
        other = _check(client, _bearer(keys, Role.EGOV, subject="other@egov"), iin)
        # Health and metrics are never limited.
        assert all(client.get("/healthz").status_code == 200 for _ in range(5))
        refused_total = _metric(client, "voter_rate_limited_total", role="egov")

    assert admitted == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert other.status_code == 200
    assert refused_total == 1
    [event] = _events(capfd, "security.rate_limited")
    assert event["sub"] == "walker@egov"
    assert event["role"] == "egov"
    assert iin not in json.dumps(event)


def test_per_role_limits_apply_to_every_authenticated_route(
    database_url: str, keys: Keys, country: Country
) -> None:
    settings = make_settings(database_url, keys, rate_limit_per_role={"auditor": 1, "egov": 600})
    load_reference(settings, country)
    auditor = _bearer(keys, Role.AUDITOR, subject="auditor@cec")
    with running_app(settings, mock_transports(country)) as (_, client):
        first = client.get("/v1/elections", headers=auditor)
        second = client.get("/v1/elections", headers=auditor)
        egov = [
            client.get("/v1/elections", headers=_bearer(keys, Role.EGOV, subject="egov"))
            for _ in range(3)
        ]
    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json()["code"] == "RATE_LIMITED"
    assert [response.status_code for response in egov] == [200, 200, 200]


def test_looking_up_more_distinct_voters_than_the_threshold_alerts_once(
    database_url: str, keys: Keys, country: Country, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(database_url, keys, bulk_lookup_threshold=3)
    load_reference(settings, country)
    iins = [spec["iin"] for spec in PEOPLE.values()][:6]
    walker = _bearer(keys, Role.EGOV, subject="walker@egov")
    with running_app(settings, mock_transports(country)) as (_, client):
        # Three distinct voters, one of them twice: at the threshold, not over it.
        statuses = [_check(client, walker, iin).status_code for iin in iins[:3] + iins[:1]]
        before = _metric(client, "voter_bulk_lookup_alerts_total")
        statuses += [_check(client, walker, iin).status_code for iin in iins[3:]]
        after = _metric(client, "voter_bulk_lookup_alerts_total")
    assert set(statuses) == {200}  # the lookups themselves still succeed
    assert before == 0
    assert after == 1
    [event] = _events(capfd, "security.bulk_lookup")
    assert event["sub"] == "walker@egov"
    assert event["distinct_voters"] == 4
    logged = json.dumps(event)
    assert "v1:" not in logged
    assert not any(iin in logged for iin in iins)


# --- role-aware limits and account holds ---------------------------------------------------


def _entries(client: TestClient, keys: Keys, kind: str) -> list[dict[str, Any]]:
    response = client.get(
        "/v1/audit/entries",
        params={"after_seq": 0, "limit": 1000},
        headers=_bearer(keys, Role.AUDITOR, subject="auditor@cec"),
    )
    assert response.status_code == 200, response.text
    bodies = [json.loads(entry["body"]) for entry in response.json()["items"]]
    return [body for body in bodies if body["kind"] == kind]


def _lift(client: TestClient, keys: Keys, hold_id: str, *, by: str) -> httpx.Response:
    return client.post(
        f"/v1/account-holds/{hold_id}/lift",
        json={"reason": "checked with the precinct: a training session"},
        headers=_bearer(keys, Role.OPERATOR, subject=by),
    )


def test_a_commission_account_is_refused_past_its_role_limit_while_egov_at_that_rate_is_not(
    database_url: str, keys: Keys, country: Country
) -> None:
    # The role table itself, not the tests' one limit for every role.
    settings = make_settings(database_url, keys, rate_limit_per_minute=None)
    load_reference(settings, country)
    iin = PEOPLE["eligible_permanent"]["iin"]
    member = _bearer(keys, Role.COMMISSION, subject="member@pec-75-0123")
    portal = _bearer(keys, Role.EGOV, subject="portal@egov")
    allowed = ROLE_LIMITS[Role.COMMISSION].per_minute
    with running_app(settings, mock_transports(country)) as (_, client):
        statuses = [
            (_check(client, member, iin).status_code, _check(client, portal, iin).status_code)
            for _ in range(allowed)
        ]
        refused = _check(client, member, iin)
        portal_still = [_check(client, portal, iin).status_code for _ in range(allowed)]
    assert statuses == [(200, 200)] * allowed
    assert refused.status_code == 429
    assert refused.json()["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert set(portal_still) == {200}


def test_an_account_past_the_distinct_voter_threshold_is_held_on_every_replica_until_lifted(
    database_url: str, keys: Keys, country: Country, capfd: pytest.CaptureFixture[str]
) -> None:
    refresh_seconds = 0.5
    settings = make_settings(
        database_url,
        keys,
        bulk_lookup_threshold_per_role={"commission": 3},
        account_hold_refresh_seconds=refresh_seconds,
    )
    load_reference(settings, country)
    iins = [spec["iin"] for spec in PEOPLE.values()][:6]
    walker = {**_bearer(keys, Role.COMMISSION, subject="walker@pec"), "Accept-Language": "en"}
    operator = _bearer(keys, Role.OPERATOR, subject="operator@tec")
    with (
        running_app(settings, mock_transports(country)) as (_, first),
        running_app(settings, mock_transports(country)) as (_, second),
    ):
        before = [_check(second, walker, iins[0]).status_code]
        before += [_check(first, walker, iin).status_code for iin in iins[:3]]
        crossing = _check(first, walker, iins[3])
        next_lookup = _check(first, walker, iins[0])
        time.sleep(refresh_seconds + 0.2)
        on_the_other_replica = _check(second, walker, iins[0])
        someone_else = _check(second, _bearer(keys, Role.COMMISSION, subject="x@pec"), iins[0])
        with running_app(settings, mock_transports(country)) as (_, restarted):
            after_a_restart = _check(restarted, walker, iins[0])

        listed = second.get("/v1/account-holds", headers=operator)
        [hold] = listed.json()["items"]
        by_the_walker = second.post(
            f"/v1/account-holds/{hold['id']}/lift", json={"reason": "mine"}, headers=walker
        )
        lifted = _lift(second, keys, hold["id"], by="operator@tec")
        at_once_where_lifted = _check(second, walker, iins[4])
        time.sleep(refresh_seconds + 0.2)
        on_the_first_again = _check(first, walker, iins[5])
        placed_entries = _entries(first, keys, "account_hold.place")
        lifted_entries = _entries(first, keys, "account_hold.lift")
        holds_total = _metric(first, "voter_account_holds_total", role="commission")
        listed_after = second.get("/v1/account-holds", headers=operator).json()

    assert before == [200, 200, 200, 200]
    for refusal in (crossing, next_lookup, on_the_other_replica, after_a_restart):
        assert refusal.status_code == 403, refusal.text
        assert refusal.headers["content-type"] == "application/problem+json"
        problem = refusal.json()
        assert problem["code"] == "ACCOUNT_HELD"
        assert "contact your election commission's operator" in problem["detail"].lower()
        assert not any(iin in refusal.text for iin in iins)
    assert someone_else.status_code == 200

    assert listed.status_code == 200
    assert hold["account"] == "walker@pec"
    assert hold["role"] == "commission"
    assert hold["status"] == "held"
    assert (hold["distinct_voters"], hold["threshold"]) == (4, 3)
    assert by_the_walker.status_code == 403
    assert by_the_walker.json()["code"] == "FORBIDDEN"
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["status"] == "lifted"
    assert lifted.json()["lifted_by"] == "operator@tec"
    assert at_once_where_lifted.status_code == 200
    assert on_the_first_again.status_code == 200
    assert listed_after == {"items": []}

    [placed] = placed_entries
    assert placed["payload"]["account"] == {"sub": "walker@pec", "role": "commission"}
    assert placed["payload"]["distinct_voters"] == 4
    [lift_entry] = lifted_entries
    assert lift_entry["payload"]["hold_id"] == hold["id"]
    assert lift_entry["payload"]["actor"]["sub"] == "operator@tec"
    assert lifted.json()["audit"]["seq"] == lift_entry["seq"]
    assert holds_total == 1
    [event] = _events(capfd, "security.account_held")
    assert event["sub"] == "walker@pec"
    assert not any(iin in json.dumps(event) for iin in iins)


def test_an_operator_cannot_lift_a_hold_on_their_own_account(
    database_url: str, keys: Keys, country: Country
) -> None:
    settings = make_settings(database_url, keys, bulk_lookup_threshold_per_role={"operator": 1})
    load_reference(settings, country)
    iins = [spec["iin"] for spec in PEOPLE.values()][:3]
    walker = _bearer(keys, Role.OPERATOR, subject="walker@tec")
    with running_app(settings, mock_transports(country)) as (_, client):
        assert _check(client, walker, iins[0]).status_code == 200
        assert _check(client, walker, iins[1]).json()["code"] == "ACCOUNT_HELD"
        # Listing is no voter look-up: a held operator still sees the holds.
        [hold] = client.get("/v1/account-holds", headers=walker).json()["items"]
        own = _lift(client, keys, hold["id"], by="walker@tec")
        still_held = _check(client, walker, iins[0])
        by_another = _lift(client, keys, hold["id"], by="colleague@tec")
        again = _lift(client, keys, hold["id"], by="colleague@tec")
        admitted = _check(client, walker, iins[0])
    assert own.status_code == 403
    assert own.json()["code"] == "SELF_LIFT_FORBIDDEN"
    assert still_held.json()["code"] == "ACCOUNT_HELD"
    assert by_another.status_code == 200
    assert again.status_code == 409
    assert again.json()["code"] == "HOLD_NOT_ACTIVE"
    assert admitted.status_code == 200
