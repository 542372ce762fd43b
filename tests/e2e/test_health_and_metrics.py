"""Readiness and Prometheus metrics over HTTP, against the mock upstreams."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.adapters.pipeline import Transports
from service.clock import SystemClock
from service.domain.caller import Role
from tests.clocks import FakeClock
from tests.support import (
    ELECTION_ID,
    NOT_IN_REGISTRY,
    NOW,
    PEOPLE,
    Country,
    Keys,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
)

TWELVE_DIGITS = re.compile(r"\d{12}")
# One Prometheus sample line: name, optional label set, then the value.
SAMPLE_LINE = re.compile(r"^(?P<series>[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?) (?P<value>\S+)$")


class CountingTransport(httpx.AsyncBaseTransport):
    """Passes requests through and counts the readiness probes among them."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.health_probes = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/healthz":
            self.health_probes += 1
        return await self.inner.handle_async_request(request)


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused")


async def _hang(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(30)
    return httpx.Response(200, json={"status": "ok"})


def _with_broken_registry(
    country: Country, handler: Callable[[httpx.Request], object]
) -> Transports:
    return Transports(
        registry=httpx.MockTransport(handler),  # type: ignore[arg-type]
        addresses=mock_transports(country).addresses,
    )


def _egov(keys: Keys) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(keys, Role.EGOV)}"}


def _check(client: TestClient, keys: Keys, iin: str) -> httpx.Response:
    return client.post(
        "/v1/eligibility/check", json={"iin": iin, "election_id": ELECTION_ID}, headers=_egov(keys)
    )


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(text: str, name: str, **labels: str) -> float:
    return _samples(text)[(name, frozenset(labels.items()))]


def test_liveness_readiness_and_metrics_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")


def test_ready_when_the_database_and_both_upstreams_answer(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "registry": "ok", "addresses": "ok"},
    }


def test_not_ready_names_the_upstream_that_refused_the_connection(
    database_url: str, keys: Keys, country: Country
) -> None:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    with running_app(settings, _with_broken_registry(country, _refuse)) as (_, client):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    problem = response.json()
    assert problem["code"] == "SERVICE_UNAVAILABLE"
    assert problem["checks"] == {"database": "ok", "registry": "failed", "addresses": "ok"}


def test_an_upstream_that_hangs_fails_its_probe_within_the_probe_timeout(
    database_url: str, keys: Keys, country: Country
) -> None:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    with running_app(settings, _with_broken_registry(country, _hang)) as (_, client):
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["checks"]["registry"] == "failed"
    assert elapsed < 3.0


def test_a_burst_of_probes_reaches_each_upstream_once(
    database_url: str, keys: Keys, country: Country
) -> None:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    mocks = mock_transports(country)
    assert mocks.registry is not None
    assert mocks.addresses is not None
    registry = CountingTransport(mocks.registry)
    addresses = CountingTransport(mocks.addresses)
    transports = Transports(registry=registry, addresses=addresses)
    with running_app(settings, transports) as (_, client):
        statuses = [client.get("/readyz").status_code for _ in range(10)]
    assert statuses == [200] * 10
    assert (registry.health_probes, addresses.health_probes) == (1, 1)


@pytest.fixture
def checked(database_url: str, keys: Keys, country: Country) -> str:
    """/metrics after one check of each kind of voter, scraped 42 real seconds after the last
    one while the service clock stands still (as VOTER_CLOCK_FIXED has it)."""
    # A checkpoint with every entry, so that its age is known without the signer task.
    settings = make_settings(database_url, keys, audit_checkpoint_every=1)
    load_reference(settings, country)
    wall = FakeClock(NOW.timestamp())
    with running_app(settings, mock_transports(country), wall_clock=SystemClock(wall)) as (
        _,
        client,
    ):
        for who in ("eligible_permanent", "under_18", "deceased", "uncovered_address"):
            assert _check(client, keys, PEOPLE[who]["iin"]).status_code == 200
        assert _check(client, keys, NOT_IN_REGISTRY).status_code == 200
        wall.advance(42)
        return client.get("/metrics").text


def test_metrics_count_requests_decisions_reasons_and_unassigned_voters(checked: str) -> None:
    route = {"route": "/v1/eligibility/check", "method": "POST"}
    assert _value(checked, "voter_http_requests_total", **route, status="200") == 5
    assert _value(checked, "voter_http_request_duration_seconds_count", **route) == 5
    decisions = {"kind": "eligibility.check"}
    assert _value(checked, "voter_decisions_total", **decisions, outcome="eligible") == 2
    assert _value(checked, "voter_decisions_total", **decisions, outcome="ineligible") == 3
    assert _value(checked, "voter_decisions_total", **decisions, outcome="undetermined") == 0
    assert _value(checked, "voter_decision_reasons_total", reason="UNDER_18") == 1
    assert _value(checked, "voter_decision_reasons_total", reason="DECEASED") == 1
    assert _value(checked, "voter_decision_reasons_total", reason="NOT_FOUND") == 1
    assert _value(checked, "voter_unassigned_total", next_step="NO_PRECINCT_FOR_ADDRESS") == 1
    assert _value(checked, "voter_unassigned_total", next_step="DAY_REGISTRATION_AVAILABLE") == 0


def test_metrics_time_the_upstreams_and_the_audit_log(checked: str) -> None:
    for upstream in ("registry", "addresses"):
        count = "voter_upstream_request_duration_seconds_count"
        assert _value(checked, count, upstream=upstream) == 5
        assert _value(checked, "voter_upstream_requests_total", upstream=upstream, result="ok") == 5
    assert _value(checked, "voter_audit_append_duration_seconds_count") == 5
    assert _value(checked, "voter_audit_checkpoint_age_seconds") == 42
    # The reference imports wrote two entries before the five decisions.
    assert _value(checked, "voter_audit_chain_length") == 7


def test_an_upstream_fault_is_counted_by_kind_and_as_an_undetermined_decision(
    database_url: str, keys: Keys, country: Country
) -> None:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    with running_app(settings, _with_broken_registry(country, _refuse)) as (_, client):
        assert _check(client, keys, PEOPLE["eligible_permanent"]["iin"]).status_code == 503
        text = client.get("/metrics").text
    registry = {"upstream": "registry"}
    assert _value(text, "voter_upstream_requests_total", **registry, result="connection") == 1
    assert _value(text, "voter_upstream_requests_total", **registry, result="ok") == 0
    decisions = {"kind": "eligibility.check"}
    assert _value(text, "voter_decisions_total", **decisions, outcome="undetermined") == 1
    # The undetermined outcome is audited too.
    assert _value(text, "voter_audit_append_duration_seconds_count") == 1


def test_routes_are_labelled_by_template_and_unknown_paths_as_unmatched(
    client: TestClient, keys: Keys
) -> None:
    client.get("/v1/day-registrations/0123abcd", headers=_egov(keys))
    client.get(f"/no/such/{NOT_IN_REGISTRY}")
    text = client.get("/metrics").text
    assert (
        _value(
            text,
            "voter_http_requests_total",
            route="/v1/day-registrations/{registration_id}",
            method="GET",
            status="404",
        )
        == 1
    )
    assert (
        _value(text, "voter_http_requests_total", route="unmatched", method="GET", status="404")
        == 1
    )


def test_no_iin_or_pseudonym_reaches_the_metrics(
    database_url: str, keys: Keys, country: Country
) -> None:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    iins = [person["iin"] for person in PEOPLE.values()] + [NOT_IN_REGISTRY]
    with running_app(settings, mock_transports(country)) as (_, client):
        for iin in iins:
            assert _check(client, keys, iin).status_code == 200
            # An IIN in a path must not become a route label: the template is the label.
            client.get(f"/v1/day-registrations/{iin}", headers=_egov(keys))
            client.get(f"/no/such/{iin}")
        text = client.get("/metrics").text
    assert "v1:" not in text
    assert not any(iin in text for iin in iins)
    # Sample values are floats whose digits can run long (a duration sum); a leak would sit
    # in a name or a label value, so those are what must hold no 12-digit run.
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        match = SAMPLE_LINE.match(line)
        assert match is not None, line
        assert not TWELVE_DIGITS.search(match["series"]), line
