"""The upstream pipeline as build_upstreams composes it, against the mock upstreams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from service.adapters.addresses import AddressClient
from service.adapters.coalesce import CoalescingAddresses, CoalescingRegistry
from service.adapters.pipeline import Transports, Upstreams, build_upstreams
from service.adapters.registry import RegistryClient
from service.config import Settings
from tests.support import NOT_IN_REGISTRY, PEOPLE, Country, mock_transports

ADULT = PEOPLE["eligible_temporary"]["iin"]


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def observe_upstream(self, *, upstream: str, result: str, seconds: float) -> None:
        assert seconds >= 0
        self.seen.append((upstream, result))


class Paths(httpx.AsyncBaseTransport):
    """Records the path of every request on its way to the mock upstream."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def transports(country: Country) -> tuple[Paths, Paths]:
    mocks = mock_transports(country)
    assert mocks.registry is not None
    assert mocks.addresses is not None
    return Paths(mocks.registry), Paths(mocks.addresses)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


async def _built(
    batched: bool, transports: tuple[Paths, Paths], recorder: Recorder
) -> AsyncIterator[Upstreams]:
    upstreams = build_upstreams(
        Settings(upstream_batch_lookups=batched),
        transports=Transports(registry=transports[0], addresses=transports[1]),
        observer=recorder,
    )
    try:
        yield upstreams
    finally:
        for client in upstreams.clients.values():
            await client.aclose()


@pytest.fixture
async def batched(transports: tuple[Paths, Paths], recorder: Recorder) -> AsyncIterator[Upstreams]:
    async for upstreams in _built(True, transports, recorder):
        yield upstreams


@pytest.fixture
async def one_by_one(
    transports: tuple[Paths, Paths], recorder: Recorder
) -> AsyncIterator[Upstreams]:
    async for upstreams in _built(False, transports, recorder):
        yield upstreams


async def test_batched_lookups_are_futures_that_share_one_batch_call_per_upstream(
    batched: Upstreams, transports: tuple[Paths, Paths], recorder: Recorder
) -> None:
    assert isinstance(batched.persons, CoalescingRegistry)
    assert isinstance(batched.registrations, CoalescingAddresses)
    persons = [batched.persons.lookup(iin) for iin in (ADULT, NOT_IN_REGISTRY)]
    homes = batched.registrations.registrations(ADULT)
    # Already under way: the check needs no task to run them.
    assert all(isinstance(call, asyncio.Future) for call in [*persons, homes])

    found, absent = await asyncio.gather(*persons)
    held = await homes

    assert getattr(found, "iin", None) == ADULT
    assert absent is None
    assert [r.kind.value for r in held] == ["temporary"]
    assert transports[0].paths == ["/persons/lookup-batch"]
    assert transports[1].paths == ["/registrations/lookup-batch"]
    assert sorted(recorder.seen) == [("addresses", "ok"), ("registry", "ok"), ("registry", "ok")]
    assert [guard.calls for guard in batched.guards] == [1, 1]


async def test_one_by_one_lookups_post_each_person_and_are_observed_once_each(
    one_by_one: Upstreams, transports: tuple[Paths, Paths], recorder: Recorder
) -> None:
    assert isinstance(one_by_one.persons, RegistryClient)
    assert isinstance(one_by_one.registrations, AddressClient)

    found, absent = await asyncio.gather(
        one_by_one.persons.lookup(ADULT), one_by_one.persons.lookup(NOT_IN_REGISTRY)
    )
    held = await one_by_one.registrations.registrations(ADULT)

    assert getattr(found, "iin", None) == ADULT
    assert absent is None
    assert [r.kind.value for r in held] == ["temporary"]
    assert transports[0].paths == ["/persons/lookup", "/persons/lookup"]
    assert transports[1].paths == ["/registrations/lookup"]
    assert sorted(recorder.seen) == [("addresses", "ok"), ("registry", "ok"), ("registry", "ok")]
    assert [guard.calls for guard in one_by_one.guards] == [2, 1]


async def test_the_pipeline_hands_out_both_clients_by_upstream_name(batched: Upstreams) -> None:
    assert set(batched.clients) == {"registry", "addresses"}
    assert [guard.upstream for guard in batched.guards] == ["registry", "addresses"]
    assert all(guard.breaker is not None for guard in batched.guards)
