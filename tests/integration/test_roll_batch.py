"""Batch routes of both mocks and their clients (issue 5): limits, order, faults, paging."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import stamina

from service.adapters.batch import (
    BatchAddressClient,
    BatchRegistryClient,
)
from service.adapters.resilience import RetryPolicy, UpstreamGuard
from service.errors import UpstreamFailure, UpstreamUnavailable
from service.mocks.addresses import create_addresses_app
from service.mocks.registry import create_registry_app
from tests.support import NOT_IN_REGISTRY, PEOPLE, Country

KNOWN = [spec["iin"] for spec in PEOPLE.values()]


@pytest.fixture
async def registry_http(country: Country) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_registry_app(country.population))
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
        yield client


@pytest.fixture
async def addresses_http(country: Country) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_addresses_app(country.registrations))
    async with httpx.AsyncClient(transport=transport, base_url="http://addresses") as client:
        yield client


# The routes


async def test_registry_batch_answers_one_result_per_iin_in_the_order_asked(
    registry_http: httpx.AsyncClient,
) -> None:
    minor = PEOPLE["under_18"]["iin"]
    asked = [minor, NOT_IN_REGISTRY, KNOWN[0], minor]

    response = await registry_http.post("/persons/lookup-batch", json={"iins": asked})

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["iin"] for r in results] == asked
    assert [r["found"] for r in results] == [True, False, True, True]
    assert results[1]["person"] is None
    assert results[0]["person"]["iin"] == minor
    assert results[0]["person"]["birth_date"] == PEOPLE["under_18"]["birth_date"]


async def test_registry_batch_of_1000_is_answered_and_1001_is_refused(
    registry_http: httpx.AsyncClient,
) -> None:
    thousand = [KNOWN[i % len(KNOWN)] for i in range(1000)]

    accepted = await registry_http.post("/persons/lookup-batch", json={"iins": thousand})
    refused = await registry_http.post(
        "/persons/lookup-batch", json={"iins": [*thousand, KNOWN[0]]}
    )

    assert accepted.status_code == 200
    assert len(accepted.json()["results"]) == 1000
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "MALFORMED_REQUEST"


MALFORMED_BATCHES = [
    pytest.param(b'{"iins": []}', id="empty"),
    pytest.param(b'{"iins": ["90010130012"]}', id="short-iin"),
    pytest.param(b'{"iins": [900101300126]}', id="number"),
    pytest.param(b'{"iins": ["900101300126"], "x": 1}', id="unknown-field"),
    pytest.param(b'["900101300126"]', id="not-an-object"),
    pytest.param(b"not json", id="not-json"),
]


@pytest.mark.parametrize("body", MALFORMED_BATCHES)
@pytest.mark.parametrize("path", ["/persons/lookup-batch", "/registrations/lookup-batch"])
async def test_batch_routes_refuse_a_malformed_body_without_echoing_it(
    registry_http: httpx.AsyncClient,
    addresses_http: httpx.AsyncClient,
    path: str,
    body: bytes,
) -> None:
    client = registry_http if path.startswith("/persons") else addresses_http

    response = await client.post(path, content=body)

    assert response.status_code == 422
    assert response.json()["code"] == "MALFORMED_REQUEST"
    assert "900101300126" not in response.text


async def test_addresses_batch_answers_every_registration_and_empty_lists(
    addresses_http: httpx.AsyncClient,
) -> None:
    asked = [PEOPLE["eligible_temporary"]["iin"], NOT_IN_REGISTRY, PEOPLE["under_18"]["iin"]]

    response = await addresses_http.post("/registrations/lookup-batch", json={"iins": asked})

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["iin"] for r in results] == asked
    assert [r["kind"] for r in results[0]["registrations"]] == ["temporary"]
    assert results[1]["registrations"] == []
    assert results[2]["registrations"] == []


async def test_addresses_batch_of_1001_is_refused(addresses_http: httpx.AsyncClient) -> None:
    response = await addresses_http.post(
        "/registrations/lookup-batch", json={"iins": [KNOWN[0]] * 1001}
    )

    assert response.status_code == 422


async def test_the_iin_listing_walks_every_person_once_in_order(
    registry_http: httpx.AsyncClient,
) -> None:
    client = BatchRegistryClient(registry_http, deadline_seconds=5)
    seen: list[str] = []
    snapshots = set()
    cursor: str | None = None
    while True:
        page = await client.iins_page(cursor, 5)
        seen += page.iins
        snapshots.add(page.snapshot)
        assert page.total == len(KNOWN)
        cursor = page.cursor
        if cursor is None:
            break

    assert seen == sorted(KNOWN)
    assert len(snapshots) == 1


async def test_the_iin_listing_refuses_a_page_too_large_or_a_bad_cursor(
    registry_http: httpx.AsyncClient,
) -> None:
    too_large = await registry_http.post("/persons/iins", json={"cursor": None, "limit": 100_001})
    past_the_end = await registry_http.post("/persons/iins", json={"cursor": "999", "limit": 1})

    assert too_large.status_code == 422
    assert past_the_end.status_code == 422


def test_the_snapshot_changes_with_the_registry_data(tmp_path: Path, country: Country) -> None:
    lines = country.population.read_text("utf-8").splitlines(keepends=True)
    fewer = tmp_path / "fewer.jsonl"
    fewer.write_text("".join(lines[1:]), "utf-8")

    def snapshot(path: Path) -> str:
        from fastapi.testclient import TestClient

        with TestClient(create_registry_app(path)) as client:
            answer = client.post("/persons/iins", json={"cursor": None, "limit": 1}).json()
            return str(answer["snapshot"])

    assert snapshot(country.population) == snapshot(country.population)
    assert snapshot(country.population) != snapshot(fewer)


# The clients


async def test_the_registry_client_gives_persons_in_order_and_none_for_the_unknown(
    registry_http: httpx.AsyncClient,
) -> None:
    client = BatchRegistryClient(registry_http, deadline_seconds=5)

    persons = await client.lookup_many([KNOWN[1], NOT_IN_REGISTRY, KNOWN[2]])

    assert [p.iin if p else None for p in persons] == [KNOWN[1], None, KNOWN[2]]


async def test_the_address_client_gives_registrations_in_order(
    addresses_http: httpx.AsyncClient,
) -> None:
    client = BatchAddressClient(addresses_http, deadline_seconds=5)
    temporary = PEOPLE["eligible_temporary"]["iin"]

    held = await client.registrations_many([temporary, NOT_IN_REGISTRY])

    assert [r.kind.value for r in held[0]] == ["temporary"]
    assert held[1] == ()


def _answering(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://up")


def _results(*results: dict[str, object]) -> httpx.Response:
    return httpx.Response(200, json={"results": list(results)})


FAULTS = [
    pytest.param(lambda r: httpx.Response(503), UpstreamFailure.STATUS, id="503"),
    pytest.param(
        lambda r: httpx.Response(404, json={"code": "PERSON_NOT_FOUND"}),
        UpstreamFailure.STATUS,
        id="404-is-a-fault-in-a-batch",
    ),
    pytest.param(lambda r: httpx.Response(200, content=b"{"), UpstreamFailure.MALFORMED, id="junk"),
    pytest.param(
        lambda r: _results({"iin": KNOWN[1], "found": False, "person": None}),
        UpstreamFailure.MALFORMED,
        id="someone-else",
    ),
    pytest.param(lambda r: _results(), UpstreamFailure.MALFORMED, id="too-few-results"),
    pytest.param(
        lambda r: _results({"iin": KNOWN[0], "found": True, "person": None}),
        UpstreamFailure.MALFORMED,
        id="found-without-person",
    ),
]


@pytest.mark.parametrize(("handler", "failure"), FAULTS)
async def test_a_faulty_batch_answer_is_upstream_unavailable_never_a_guess(
    handler: Callable[[httpx.Request], httpx.Response], failure: UpstreamFailure
) -> None:
    async with _answering(handler) as http:
        client = BatchRegistryClient(http, deadline_seconds=5)  # one attempt
        with pytest.raises(UpstreamUnavailable) as caught:
            await client.lookup_many([KNOWN[0]])

    assert caught.value.upstream == "registry"
    assert caught.value.failure == failure
    assert KNOWN[0] not in str(caught.value)


async def test_a_connection_fault_is_upstream_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with _answering(refuse) as http:
        client = BatchAddressClient(http, deadline_seconds=5)  # one attempt
        with pytest.raises(UpstreamUnavailable) as caught:
            await client.registrations_many([KNOWN[0]])

    assert caught.value.failure == UpstreamFailure.CONNECTION


def _three_attempts() -> UpstreamGuard:
    return UpstreamGuard("addresses", retry=RetryPolicy.doubling(attempts=3, first_wait_seconds=0))


async def test_a_failed_batch_is_retried_a_bounded_number_of_times() -> None:
    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            return httpx.Response(503)
        return _results({"iin": KNOWN[0], "registrations": []})

    async with _answering(flaky) as http:
        guard = _three_attempts()
        client = BatchAddressClient(http, deadline_seconds=5, guard=guard)
        held = await client.registrations_many([KNOWN[0]])
        assert held == [()]
        assert guard.retries == 2

    calls.clear()
    async with _answering(lambda r: (calls.append(1), httpx.Response(500))[1]) as http:
        client = BatchAddressClient(http, deadline_seconds=5, guard=_three_attempts())
        with pytest.raises(UpstreamUnavailable):
            await client.registrations_many([KNOWN[0]])
    assert len(calls) == 3


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda r: httpx.Response(422), id="422"),
        pytest.param(lambda r: httpx.Response(200, content=b"{"), id="junk"),
    ],
)
async def test_a_batch_that_was_answered_is_not_retried(
    answer: Callable[[httpx.Request], httpx.Response],
) -> None:
    calls: list[int] = []

    def counted(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return answer(request)

    async with _answering(counted) as http:
        guard = _three_attempts()
        client = BatchAddressClient(http, deadline_seconds=5, guard=guard)
        with pytest.raises(UpstreamUnavailable):
            await client.registrations_many([KNOWN[0]])

    assert (len(calls), guard.retries) == (1, 0)


async def test_retries_with_real_backoff_stop_before_the_deadline_of_the_call() -> None:
    calls: list[int] = []
    patient = RetryPolicy(
        attempts=10, wait_initial_seconds=0.05, wait_max_seconds=0.1, wait_jitter_seconds=0
    )
    deadline_seconds = 0.35

    async with _answering(lambda r: (calls.append(1), httpx.Response(503))[1]) as http:
        client = BatchAddressClient(
            http,
            deadline_seconds=deadline_seconds,
            guard=UpstreamGuard("addresses", retry=patient),
        )
        with stamina.set_testing(False):
            started = time.monotonic()
            with pytest.raises(UpstreamUnavailable) as caught:
                await client.registrations_many([KNOWN[0]])
            elapsed = time.monotonic() - started

    assert caught.value.failure == UpstreamFailure.STATUS
    # Retried, but not ten times: no wait starts that could end past the deadline (about
    # four attempts, after waits of 0.05, 0.1 and 0.1 s).
    assert 1 < len(calls) < patient.attempts
    assert elapsed < deadline_seconds


async def test_the_clients_refuse_an_empty_or_oversized_batch() -> None:
    async with _answering(lambda r: httpx.Response(500)) as http:
        client = BatchRegistryClient(http, deadline_seconds=5)
        with pytest.raises(ValueError, match="1 to 1000"):
            await client.lookup_many([])
        with pytest.raises(ValueError, match="1 to 1000"):
            await client.lookup_many([KNOWN[0]] * 1001)
