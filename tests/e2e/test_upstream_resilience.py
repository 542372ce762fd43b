"""Issue 6, upstream faults: under every injected fault no voter is `eligible` by mistake.

Each fault is injected into the in-process mock upstreams (service.mocks.faults, the same
middleware `voterctl mock --error-rate ...` uses), and the checks go through the whole app:
503 UNDETERMINED within the deadline, audited once per request, and during an outage the
circuit breakers keep the upstream calls far below three per request.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.adapters.pipeline import Transports
from service.domain.caller import Role
from service.mocks.faults import FaultProfile
from service.mocks.registry import create_registry_app
from tests.support import (
    ELECTION_ID,
    PEOPLE,
    CountingTransport,
    Country,
    Keys,
    faulty_mock_transports,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
)

DEADLINE_SECONDS = 0.5
SLACK_SECONDS = 0.5
REQUESTS = 12
ELIGIBLE = PEOPLE["eligible_permanent"]["iin"]

# What the law gives each test voter (tests/e2e/test_eligibility_api.py): the only answers a
# check may give besides undetermined.
EXPECTED = {
    "eligible_permanent": ("eligible", "75-0001"),
    "eligible_temporary": ("eligible", "75-0002"),
    "eligible_consular": ("eligible", "99-0001"),
    "no_registration": ("eligible", None),
    "uncovered_address": ("eligible", None),
    "birthday_on_voting_day": ("eligible", "75-0002"),
    "pretrial": ("eligible", "75-0001"),
    "under_18": ("ineligible", None),
    "not_citizen": ("ineligible", None),
    "deceased": ("ineligible", None),
    "incapacitated": ("ineligible", None),
    "imprisoned": ("ineligible", None),
}

FAULTS = {
    "latency beyond the deadline": FaultProfile(latency_ms=int(DEADLINE_SECONDS * 3000)),
    "500 or 503": FaultProfile(error_rate=1.0, seed=1),
    "hangs (timeout)": FaultProfile(timeout_rate=1.0),
    "malformed body": FaultProfile(malformed_rate=1.0, seed=2),
    "connection reset": FaultProfile(reset_rate=1.0),
}


def check(client: TestClient, keys: Keys, iin: str = ELIGIBLE) -> httpx.Response:
    return client.post(
        "/v1/eligibility/check",
        json={"iin": iin, "election_id": ELECTION_ID},
        headers={"Authorization": f"Bearer {token(keys, Role.EGOV)}"},
    )


def audit_bodies(client: TestClient, keys: Keys, *, after_seq: int) -> list[dict[str, Any]]:
    items = client.get(
        "/v1/audit/entries",
        params={"after_seq": after_seq, "limit": 1000},
        headers={"Authorization": f"Bearer {token(keys, Role.AUDITOR)}"},
    ).json()["items"]
    return [json.loads(item["body"]) | {"seq": item["seq"]} for item in items]


def head_seq(client: TestClient, keys: Keys) -> int:
    return max((body["seq"] for body in audit_bodies(client, keys, after_seq=0)), default=0)


def assert_undetermined(response: httpx.Response, *, elapsed: float, upstreams: set[str]) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    problem = response.json()
    assert problem["code"] == "UNDETERMINED"
    assert problem["outcome"] == "undetermined"
    assert problem["upstream"] in upstreams
    assert elapsed < DEADLINE_SECONDS + SLACK_SECONDS


def assert_one_undetermined_entry_per_request(
    client: TestClient, keys: Keys, *, after_seq: int, problems: list[dict[str, Any]]
) -> None:
    bodies = audit_bodies(client, keys, after_seq=after_seq)
    assert len(bodies) == len(problems)
    assert sorted(b["seq"] for b in bodies) == sorted(p["audit"]["seq"] for p in problems)
    assert {b["kind"] for b in bodies} == {"eligibility.check"}
    assert {b["payload"]["outcome"] for b in bodies} == {"undetermined"}
    assert all(b["subject"].startswith("v1:") for b in bodies)
    assert all(ELIGIBLE not in json.dumps(b) for b in bodies)


@pytest.mark.parametrize("broken", ["registry", "addresses"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_injected_fault_is_undetermined_audited_and_inside_the_deadline(
    database_url: str, keys: Keys, country: Country, broken: str, fault: str
) -> None:
    settings = make_settings(database_url, keys, upstream_deadline_seconds=DEADLINE_SECONDS)
    load_reference(settings, country)
    transports, registry_calls, addresses_calls = faulty_mock_transports(
        country, **{broken: FAULTS[fault]}
    )
    with running_app(settings, transports) as (_, client):
        before = head_seq(client, keys)
        problems = []
        for _ in range(REQUESTS):
            started = time.monotonic()
            response = check(client, keys)
            assert_undetermined(response, elapsed=time.monotonic() - started, upstreams={broken})
            problems.append(response.json())
        assert_one_undetermined_entry_per_request(client, keys, after_seq=before, problems=problems)

    calls = (registry_calls if broken == "registry" else addresses_calls).requests
    assert 1 <= calls <= 3 * REQUESTS


@pytest.mark.parametrize(
    ("down", "profile"),
    [
        pytest.param({"registry", "addresses"}, FaultProfile(error_rate=1.0), id="both-503"),
        pytest.param({"registry", "addresses"}, FaultProfile(reset_rate=1.0), id="both-reset"),
        pytest.param({"registry", "addresses"}, FaultProfile(timeout_rate=1.0), id="both-hang"),
        pytest.param({"registry"}, FaultProfile(error_rate=1.0), id="registry-503"),
        pytest.param({"addresses"}, FaultProfile(reset_rate=1.0), id="addresses-reset"),
    ],
)
def test_a_full_outage_costs_far_fewer_than_three_upstream_calls_per_request(
    database_url: str, keys: Keys, country: Country, down: set[str], profile: FaultProfile
) -> None:
    requests = 40
    settings = make_settings(database_url, keys, upstream_deadline_seconds=DEADLINE_SECONDS)
    load_reference(settings, country)
    transports, registry_calls, addresses_calls = faulty_mock_transports(
        country, **dict.fromkeys(down, profile)
    )
    with running_app(settings, transports) as (_, client):
        assert breaker_states(client.get("/metrics").text) == {
            "registry": "closed",
            "addresses": "closed",
        }
        before = head_seq(client, keys)
        problems = []
        for _ in range(requests):
            started = time.monotonic()
            response = check(client, keys)
            assert_undetermined(response, elapsed=time.monotonic() - started, upstreams=down)
            problems.append(response.json())
        assert_one_undetermined_entry_per_request(client, keys, after_seq=before, problems=problems)
        metrics = client.get("/metrics").text

    calls = {"registry": registry_calls.requests, "addresses": addresses_calls.requests}
    total = sum(calls[name] for name in down)
    print(f"\n{requests} requests, outage of {sorted(down)}: upstream calls {calls}")
    assert total <= 3 * requests
    # The breakers open after 5 failures (3 attempts for the first check, the rest on the
    # second): from then on every check fails fast without calling.
    assert all(calls[name] <= 10 for name in down)
    states = breaker_states(metrics)
    assert all(states[name] == "open" for name in down)
    assert {p["upstream"] for p in problems[-10:]} <= down


def breaker_states(exposition: str) -> dict[str, str]:
    [family] = [
        f
        for f in text_string_to_metric_families(exposition)
        if f.name == "voter_upstream_circuit_state"
    ]
    return {s.labels["upstream"]: s.labels["state"] for s in family.samples if s.value == 1}


def test_concurrent_checks_during_a_full_outage_stay_within_three_calls_per_request(
    database_url: str, keys: Keys, country: Country
) -> None:
    requests = 48
    settings = make_settings(database_url, keys, upstream_deadline_seconds=DEADLINE_SECONDS)
    load_reference(settings, country)
    down = FaultProfile(error_rate=1.0)
    transports, registry_calls, addresses_calls = faulty_mock_transports(
        country, registry=down, addresses=down
    )
    with running_app(settings, transports) as (_, client):
        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(lambda _: check(client, keys), range(requests)))
        assert [r.status_code for r in responses] == [503] * requests
        assert {r.json()["code"] for r in responses} == {"UNDETERMINED"}
        assert len({r.json()["audit"]["seq"] for r in responses}) == requests

    total = registry_calls.requests + addresses_calls.requests
    print(f"\n{requests} concurrent requests, both upstreams down: {total} upstream calls")
    assert total <= 3 * requests


def test_probes_after_the_cool_down_keep_an_outage_cheap_and_a_recovery_is_seen(
    database_url: str, keys: Keys, country: Country
) -> None:
    settings = make_settings(
        database_url,
        keys,
        upstream_deadline_seconds=DEADLINE_SECONDS,
        upstream_breaker_reset_seconds=0.2,
    )
    load_reference(settings, country)
    healthy = mock_transports(country).registry
    assert healthy is not None
    switch = Switchable(httpx.MockTransport(lambda r: httpx.Response(503, json={})), healthy)
    transports = Transports(registry=switch, addresses=mock_transports(country).addresses)
    with running_app(settings, transports) as (_, client):
        for _ in range(10):
            assert check(client, keys).status_code == 503
            time.sleep(0.1)
        calls_during_outage = switch.requests
        switch.recovered = True
        time.sleep(0.25)
        response = check(client, keys)

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "eligible"
    # 5 failures open the breaker; then one probe per 0.2 s cool-down over the ~1 s outage.
    assert calls_during_outage <= 5 + 2 + 6


class Switchable(CountingTransport):
    def __init__(self, broken: httpx.AsyncBaseTransport, healthy: httpx.AsyncBaseTransport) -> None:
        super().__init__(broken)
        self.healthy = healthy
        self.recovered = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        transport = self.healthy if self.recovered else self.inner
        return await transport.handle_async_request(request)


class FailingFirst(CountingTransport):
    """Answers the first ``failures`` requests with 503, then passes them to the real mock."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, failures: int) -> None:
        super().__init__(inner)
        self.failures = failures

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests <= self.failures:
            return httpx.Response(503, json={"detail": "busy"})
        return await self.inner.handle_async_request(request)


def test_a_transient_5xx_is_retried_and_the_voter_gets_the_right_decision(
    database_url: str, keys: Keys, country: Country
) -> None:
    settings = make_settings(database_url, keys, upstream_deadline_seconds=DEADLINE_SECONDS)
    load_reference(settings, country)
    flaky = FailingFirst(
        httpx.ASGITransport(app=create_registry_app(country.population)), failures=2
    )
    transports = Transports(registry=flaky, addresses=mock_transports(country).addresses)
    with running_app(settings, transports) as (_, client):
        response = check(client, keys)
        metrics = client.get("/metrics").text

    assert response.status_code == 200, response.text
    decision = response.json()
    assert (decision["outcome"], decision["precinct"]["id"]) == ("eligible", "75-0001")
    assert flaky.requests == 3
    retries = {
        s.labels["upstream"]: s.value
        for f in text_string_to_metric_families(metrics)
        if f.name == "voter_upstream_retries"
        for s in f.samples
        if s.name == "voter_upstream_retries_total"
    }
    assert retries == {"registry": 2.0, "addresses": 0.0}


def test_under_seeded_random_faults_every_answer_is_the_right_one_or_undetermined(
    database_url: str, keys: Keys, country: Country
) -> None:
    settings = make_settings(database_url, keys, upstream_deadline_seconds=DEADLINE_SECONDS)
    load_reference(settings, country)
    chaos = {"error_rate": 0.2, "malformed_rate": 0.1, "reset_rate": 0.1, "timeout_rate": 0.02}
    transports, _, _ = faulty_mock_transports(
        country,
        registry=FaultProfile(**chaos, seed=11),  # type: ignore[arg-type]
        addresses=FaultProfile(**chaos, seed=12),  # type: ignore[arg-type]
    )
    answers: dict[str, int] = {"right": 0, "undetermined": 0}
    with running_app(settings, transports) as (_, client):
        before = head_seq(client, keys)
        for _ in range(4):
            for who, (outcome, precinct) in EXPECTED.items():
                response = check(client, keys, PEOPLE[who]["iin"])
                if response.status_code == 503:
                    assert response.json()["code"] == "UNDETERMINED"
                    answers["undetermined"] += 1
                    continue
                assert response.status_code == 200, response.text
                decision = response.json()
                assert (decision["outcome"], (decision["precinct"] or {}).get("id")) == (
                    outcome,
                    precinct,
                ), who
                answers["right"] += 1
        entries = audit_bodies(client, keys, after_seq=before)

    print(f"\nseeded faults over {sum(answers.values())} checks: {answers}")
    # Retries turn most single faults into right answers; some faults still get through.
    assert answers["right"] > answers["undetermined"] > 0
    assert len(entries) == sum(answers.values())


def test_a_fault_while_the_other_upstream_is_still_answering_is_undetermined_not_a_500(
    database_url: str, keys: Keys, country: Country
) -> None:
    settings = make_settings(database_url, keys, upstream_deadline_seconds=DEADLINE_SECONDS)
    load_reference(settings, country)
    # The registry is healthy but takes 100 ms; the address service refuses at once.
    transports, _, _ = faulty_mock_transports(country, registry=FaultProfile(latency_ms=100))

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    transports = Transports(registry=transports.registry, addresses=httpx.MockTransport(refuse))
    with running_app(settings, transports) as (_, client):
        started = time.monotonic()
        response = check(client, keys)
        assert_undetermined(response, elapsed=time.monotonic() - started, upstreams={"addresses"})
