"""Per-subject rate limits and bulk-read alarms over HTTP (SPEC §12)."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.domain.caller import Role
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
