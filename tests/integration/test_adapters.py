"""The upstream adapters return typed values and turn every upstream fault into one error."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from service.adapters.addresses import AddressClient
from service.adapters.batch import BatchRegistryClient
from service.adapters.registry import RegistryClient
from service.adapters.upstream import SubjectMismatch, build_upstream_client
from service.domain.model import Custody, LegalCapacity, Person, Registration, RegistrationKind
from service.errors import UpstreamUnavailable
from service.mocks.addresses import create_addresses_app
from service.mocks.registry import create_registry_app

AIGERIM = "900101300126"
OTHER = "791028302728"
UNKNOWN = "061211600012"
RCA = "0203000123450001"
DEADLINE_SECONDS = 0.3
TIMEOUT = httpx.Timeout(5.0)


def person_json(iin: str) -> dict[str, Any]:
    return {
        "iin": iin,
        "surname": "Сейтқали",
        "given_name": "Айгерім",
        "patronymic": None,
        "birth_date": "1990-01-01",
        "sex": "F",
        "citizenship": "KAZ",
        "death_date": None,
        "legal_capacity": "incapacitated",
        "custody": "sentenced",
        "data_as_of": "2026-11-01T00:00:00Z",
    }


def registration_json(iin: str, **changes: Any) -> dict[str, Any]:
    return {
        "iin": iin,
        "kind": "permanent",
        "rca": RCA,
        "kato": "751110000",
        "street": "Абай даңғылы",
        "house": "12А",
        "flat": "5",
        "country": "KAZ",
        "city": None,
        "valid_from": "2015-03-01",
        "valid_until": None,
        **changes,
    }


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    return path


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[RegistryClient]:
    app = create_registry_app(write_jsonl(tmp_path / "population.jsonl", [person_json(AIGERIM)]))
    async with build_upstream_client(
        "http://registry", timeout=TIMEOUT, transport=httpx.ASGITransport(app=app)
    ) as client:
        yield RegistryClient(client, deadline_seconds=DEADLINE_SECONDS)


@pytest.fixture
async def addresses(tmp_path: Path) -> AsyncIterator[AddressClient]:
    lines = [
        registration_json(AIGERIM),
        registration_json(OTHER),
        registration_json(
            AIGERIM, kind="temporary", flat=None, valid_from="2026-01-01", valid_until="2026-12-31"
        ),
    ]
    app = create_addresses_app(write_jsonl(tmp_path / "registrations.jsonl", lines))
    async with build_upstream_client(
        "http://addresses", timeout=TIMEOUT, transport=httpx.ASGITransport(app=app)
    ) as client:
        yield AddressClient(client, deadline_seconds=DEADLINE_SECONDS)


# Against the mock upstreams


async def test_registry_lookup_returns_the_person_as_a_domain_value(
    registry: RegistryClient,
) -> None:
    found = await registry.lookup(AIGERIM)

    assert found == Person(
        iin=AIGERIM,
        surname="Сейтқали",
        given_name="Айгерім",
        patronymic=None,
        birth_date=dt.date(1990, 1, 1),
        sex="F",
        citizenship="KAZ",
        death_date=None,
        legal_capacity=LegalCapacity.INCAPACITATED,
        custody=Custody.SENTENCED,
        data_as_of=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )


async def test_the_dated_facts_reach_both_registry_clients_and_nulls_are_left_out(
    tmp_path: Path,
) -> None:
    dated = {
        **person_json(AIGERIM),
        "incapacitated_since": "2019-04-01",
        "capacity_restored_on": "2027-03-01",
        "custody_since": "2024-01-10",
        "sentence_ends_on": "2027-03-20",
    }
    undated = person_json(OTHER)
    app = create_registry_app(write_jsonl(tmp_path / "population.jsonl", [dated, undated]))
    transport = httpx.ASGITransport(app=app)
    async with build_upstream_client(
        "http://registry", timeout=TIMEOUT, transport=transport
    ) as client:
        served = (await client.post("/persons/lookup", json={"iin": OTHER})).json()
        single = await RegistryClient(client, deadline_seconds=DEADLINE_SECONDS).lookup(AIGERIM)
        batched = await BatchRegistryClient(client, deadline_seconds=DEADLINE_SECONDS).lookup_many(
            [AIGERIM, OTHER]
        )

    # Most people have none of them: a served record spends no bytes on their absence.
    assert set(served) == set(undated)
    assert single is not None
    assert (
        single.incapacitated_since,
        single.capacity_restored_on,
        single.custody_since,
        single.sentence_ends_on,
    ) == (dt.date(2019, 4, 1), dt.date(2027, 3, 1), dt.date(2024, 1, 10), dt.date(2027, 3, 20))
    assert batched[0] == single
    assert batched[1] is not None
    assert batched[1].sentence_ends_on is None


async def test_registry_lookup_of_an_absent_person_returns_none(
    registry: RegistryClient,
) -> None:
    assert await registry.lookup(UNKNOWN) is None


async def test_address_lookup_returns_the_persons_registrations_as_domain_values(
    addresses: AddressClient,
) -> None:
    found = await addresses.registrations(AIGERIM)

    assert found == (
        Registration(
            iin=AIGERIM,
            kind=RegistrationKind.PERMANENT,
            rca=RCA,
            kato="751110000",
            street="Абай даңғылы",
            house="12А",
            flat="5",
            country="KAZ",
            city=None,
            valid_from=dt.date(2015, 3, 1),
            valid_until=None,
        ),
        Registration(
            iin=AIGERIM,
            kind=RegistrationKind.TEMPORARY,
            rca=RCA,
            kato="751110000",
            street="Абай даңғылы",
            house="12А",
            flat=None,
            country="KAZ",
            city=None,
            valid_from=dt.date(2026, 1, 1),
            valid_until=dt.date(2026, 12, 31),
        ),
    )


async def test_address_lookup_of_a_person_without_registrations_is_empty(
    addresses: AddressClient,
) -> None:
    assert await addresses.registrations(UNKNOWN) == ()


async def test_many_concurrent_lookups_each_get_their_own_answer(
    registry: RegistryClient, addresses: AddressClient
) -> None:
    people = await asyncio.gather(*(registry.lookup(i) for i in [AIGERIM, UNKNOWN] * 20))
    regs = await asyncio.gather(*(addresses.registrations(i) for i in [OTHER, UNKNOWN] * 20))

    assert [p.iin if p else None for p in people] == [AIGERIM, None] * 20
    assert [tuple(r.iin for r in rs) for rs in regs] == [(OTHER,), ()] * 20


# Faults, through httpx.MockTransport

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
Lookup = Callable[[httpx.AsyncClient], Awaitable[object]]


async def registry_lookup(client: httpx.AsyncClient) -> object:
    return await RegistryClient(client, deadline_seconds=DEADLINE_SECONDS).lookup(AIGERIM)


async def address_lookup(client: httpx.AsyncClient) -> object:
    return await AddressClient(client, deadline_seconds=DEADLINE_SECONDS).registrations(AIGERIM)


UPSTREAMS = [
    pytest.param(registry_lookup, "registry", id="registry"),
    pytest.param(address_lookup, "addresses", id="addresses"),
]


def faulty_client(handler: Handler) -> httpx.AsyncClient:
    return build_upstream_client(
        "http://upstream", timeout=TIMEOUT, transport=httpx.MockTransport(handler)
    )


async def call(lookup: Lookup, handler: Handler) -> object:
    async with faulty_client(handler) as client:
        return await lookup(client)


async def fail(lookup: Lookup, handler: Handler) -> UpstreamUnavailable:
    with pytest.raises(UpstreamUnavailable) as caught:
        await call(lookup, handler)
    error = caught.value
    # Whatever went wrong, the IIN must not reach a message or a logged traceback.
    assert AIGERIM not in str(error)
    assert AIGERIM not in "".join(traceback.format_exception(error))
    return error


def answer(status: int, **kwargs: Any) -> Handler:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, **kwargs)

    return handler


def raising(exc_type: type[httpx.RequestError]) -> Handler:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("upstream fault", request=request)

    return handler


@pytest.mark.parametrize(("lookup", "upstream"), UPSTREAMS)
async def test_lookup_sends_the_iin_in_a_post_body_never_in_the_url(
    lookup: Lookup, upstream: str
) -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"code": "PERSON_NOT_FOUND"})

    await call(lookup, handler)

    [request] = seen
    assert request.method == "POST"
    assert AIGERIM not in str(request.url)
    assert json.loads(request.content) == {"iin": AIGERIM}


@pytest.mark.parametrize(("lookup", "upstream"), UPSTREAMS)
async def test_a_404_means_the_upstream_knows_nothing_about_the_person(
    lookup: Lookup, upstream: str
) -> None:
    result = await call(lookup, answer(404, json={"code": "PERSON_NOT_FOUND"}))

    assert result in (None, ())


@pytest.mark.parametrize(("lookup", "upstream"), UPSTREAMS)
@pytest.mark.parametrize(
    "body", [b"", b"Not Found", b'{"code": "ROUTE_NOT_FOUND"}', b"[1]", b'{"detail": "x"}']
)
async def test_a_404_without_the_not_found_code_is_a_fault_not_an_absence(
    lookup: Lookup, upstream: str, body: bytes
) -> None:
    with pytest.raises(UpstreamUnavailable) as caught:
        await call(lookup, answer(404, content=body))

    assert caught.value.failure == "status"


@pytest.mark.parametrize(("lookup", "upstream"), UPSTREAMS)
@pytest.mark.parametrize("status", [500, 502, 503, 504, 400, 401, 429, 204, 302])
async def test_a_server_error_or_unexpected_status_is_a_status_failure(
    lookup: Lookup, upstream: str, status: int
) -> None:
    error = await fail(lookup, answer(status, headers={"location": "http://elsewhere/"}))

    assert (error.upstream, error.failure) == (upstream, "status")
    assert isinstance(error.__cause__, httpx.HTTPStatusError)
    assert error.__cause__.response.status_code == status


@pytest.mark.parametrize(("lookup", "upstream"), UPSTREAMS)
@pytest.mark.parametrize(
    ("exc_type", "failure"),
    [
        pytest.param(httpx.ConnectError, "connection", id="connect-error"),
        pytest.param(httpx.RemoteProtocolError, "connection", id="protocol-error"),
        pytest.param(httpx.ReadError, "connection", id="read-error"),
        pytest.param(httpx.ConnectTimeout, "timeout", id="connect-timeout"),
        pytest.param(httpx.ReadTimeout, "timeout", id="read-timeout"),
        pytest.param(httpx.PoolTimeout, "timeout", id="pool-timeout"),
    ],
)
async def test_a_transport_fault_is_translated_keeping_its_cause(
    lookup: Lookup, upstream: str, exc_type: type[httpx.RequestError], failure: str
) -> None:
    error = await fail(lookup, raising(exc_type))

    assert (error.upstream, error.failure) == (upstream, failure)
    assert type(error.__cause__) is exc_type


@pytest.mark.parametrize(("lookup", "upstream"), UPSTREAMS)
async def test_an_upstream_slower_than_the_deadline_times_out_on_the_deadline(
    lookup: Lookup, upstream: str
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(DEADLINE_SECONDS * 20)
        return httpx.Response(200, json=person_json(AIGERIM))

    started = time.monotonic()
    error = await fail(lookup, handler)
    elapsed = time.monotonic() - started

    assert (error.upstream, error.failure) == (upstream, "timeout")
    assert isinstance(error.__cause__, TimeoutError)
    assert elapsed < DEADLINE_SECONDS + 0.5


@pytest.mark.parametrize(("lookup", "upstream"), UPSTREAMS)
async def test_a_body_trickling_in_past_the_deadline_times_out_on_the_deadline(
    lookup: Lookup, upstream: str
) -> None:
    # Each chunk arrives well within any read timeout; only the overall deadline stops it.
    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(100):
            await asyncio.sleep(DEADLINE_SECONDS / 5)
            yield b" "

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=trickle())

    started = time.monotonic()
    error = await fail(lookup, handler)
    elapsed = time.monotonic() - started

    assert (error.upstream, error.failure) == (upstream, "timeout")
    assert elapsed < DEADLINE_SECONDS + 0.5


@pytest.mark.parametrize(("lookup", "upstream"), UPSTREAMS)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>busy</html>", id="not-json"),
        pytest.param(b'{"iin": "900101300126"', id="truncated-json"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(json.dumps({"iin": AIGERIM}).encode(), id="missing-fields"),
    ],
)
async def test_a_body_that_is_not_the_expected_record_is_a_malformed_failure(
    lookup: Lookup, upstream: str, body: bytes
) -> None:
    error = await fail(lookup, answer(200, content=body))

    assert (error.upstream, error.failure) == (upstream, "malformed")
    assert isinstance(error.__cause__, ValidationError)


async def test_a_person_record_with_missing_fields_is_malformed() -> None:
    incomplete = {k: v for k, v in person_json(AIGERIM).items() if k != "birth_date"}

    error = await fail(registry_lookup, answer(200, json=incomplete))

    assert error.failure == "malformed"
    assert isinstance(error.__cause__, ValidationError)


async def test_a_person_record_with_an_invalid_value_is_malformed() -> None:
    error = await fail(registry_lookup, answer(200, json=person_json(AIGERIM) | {"sex": "X"}))

    assert error.failure == "malformed"


async def test_a_person_record_about_someone_else_is_malformed() -> None:
    error = await fail(registry_lookup, answer(200, json=person_json(OTHER)))

    assert (error.upstream, error.failure) == ("registry", "malformed")
    assert isinstance(error.__cause__, SubjectMismatch)
    assert OTHER not in "".join(traceback.format_exception(error))


async def test_registrations_of_someone_else_are_malformed() -> None:
    body = {"registrations": [registration_json(AIGERIM), registration_json(OTHER)]}

    error = await fail(address_lookup, answer(200, json=body))

    assert (error.upstream, error.failure) == ("addresses", "malformed")
    assert isinstance(error.__cause__, SubjectMismatch)


async def test_a_registration_with_missing_fields_is_malformed() -> None:
    incomplete = {k: v for k, v in registration_json(AIGERIM).items() if k != "valid_from"}

    error = await fail(address_lookup, answer(200, json={"registrations": [incomplete]}))

    assert error.failure == "malformed"
    assert isinstance(error.__cause__, ValidationError)


async def test_an_empty_registrations_answer_is_no_registrations() -> None:
    assert await call(address_lookup, answer(200, json={"registrations": []})) == ()


# Client construction


async def test_built_client_carries_base_url_timeout_and_the_injected_transport() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"code": "PERSON_NOT_FOUND"})

    timeout = httpx.Timeout(1.5, connect=0.5)
    async with build_upstream_client(
        "http://registry.internal:8081/api",
        timeout=timeout,
        transport=httpx.MockTransport(handler),
    ) as client:
        assert client.timeout == timeout
        assert await RegistryClient(client, deadline_seconds=1).lookup(AIGERIM) is None

    assert str(seen[0].url) == "http://registry.internal:8081/api/persons/lookup"


@pytest.mark.parametrize("deadline", [0, -1.0])
def test_a_client_without_a_positive_deadline_is_refused(deadline: float) -> None:
    client = httpx.AsyncClient()
    with pytest.raises(ValueError, match="deadline_seconds"):
        RegistryClient(client, deadline_seconds=deadline)
    with pytest.raises(ValueError, match="deadline_seconds"):
        AddressClient(client, deadline_seconds=deadline)
