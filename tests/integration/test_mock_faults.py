"""The mocks' fault injection, seen from an HTTP client: each fault looks like the real thing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from service.mocks.faults import WRONG_SHAPE_BODY, FaultProfile, InjectedReset, inject_faults
from service.mocks.registry import create_registry_app
from tests.support import PEOPLE, Country

IIN = PEOPLE["eligible_permanent"]["iin"]


ClientFor = Callable[[FaultProfile], httpx.AsyncClient]


@pytest.fixture
async def client_for(country: Country) -> AsyncIterator[ClientFor]:
    """Builds an in-process client of the registry mock behind a fault profile."""
    clients: list[httpx.AsyncClient] = []

    def build(profile: FaultProfile) -> httpx.AsyncClient:
        app = inject_faults(create_registry_app(country.population), profile)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock")
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()


async def lookup(client: httpx.AsyncClient, path: str = "/persons/lookup") -> httpx.Response:
    return await client.post(path, json={"iin": IIN})


async def test_a_calm_profile_leaves_the_mock_as_it_was(client_for: ClientFor) -> None:
    client = client_for(FaultProfile())
    response = await lookup(client)

    assert response.status_code == 200
    assert response.json()["iin"] == IIN


async def test_error_faults_answer_500_or_503_problems_on_every_route(
    client_for: ClientFor,
) -> None:
    client = client_for(FaultProfile(error_rate=1.0, seed=3))
    # Batch routes and any other path alike: the middleware wraps the whole app.
    responses = [await lookup(client, path) for path in ["/persons/lookup"] * 10 + ["/any/path"]]

    assert {r.status_code for r in responses} == {500, 503}
    assert {r.headers["content-type"] for r in responses} == {"application/problem+json"}
    assert all(r.json()["code"] == "FAULT" for r in responses)
    assert all(IIN not in r.text for r in responses)


async def test_health_is_never_faulted(client_for: ClientFor) -> None:
    client = client_for(FaultProfile(error_rate=0.5, reset_rate=0.5))
    statuses = {(await client.get("/healthz")).status_code for _ in range(20)}

    assert statuses == {200}


async def test_malformed_faults_answer_200_with_a_cut_or_misshaped_body(
    client_for: ClientFor,
) -> None:
    client = client_for(FaultProfile(malformed_rate=1.0, seed=9))
    bodies = [(await lookup(client)) for _ in range(20)]

    assert {r.status_code for r in bodies} == {200}
    shaped = [r for r in bodies if r.content == WRONG_SHAPE_BODY]
    cut = [r for r in bodies if r.content != WRONG_SHAPE_BODY]
    assert shaped
    assert cut
    for response in cut:
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.content)


async def test_a_reset_fault_reaches_an_in_process_client_as_a_socket_error(
    client_for: ClientFor,
) -> None:
    client = client_for(FaultProfile(reset_rate=1.0))

    with pytest.raises(InjectedReset):
        await lookup(client)


async def test_a_timeout_fault_never_answers(client_for: ClientFor) -> None:
    client = client_for(FaultProfile(timeout_rate=1.0))

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await lookup(client)


async def test_latency_delays_every_answer(client_for: ClientFor) -> None:
    client = client_for(FaultProfile(latency_ms=150))
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await lookup(client)

    assert response.status_code == 200
    assert loop.time() - started >= 0.15


async def test_the_same_seed_gives_the_same_answers_in_the_same_order(
    client_for: ClientFor,
) -> None:
    profile = FaultProfile(error_rate=0.3, malformed_rate=0.3, seed=21)
    runs = []
    for _ in range(2):
        client = client_for(profile)
        runs.append([((r := await lookup(client)).status_code, r.content) for _ in range(30)])

    assert runs[0] == runs[1]
    assert {status for status, _ in runs[0]} >= {200, 500}
