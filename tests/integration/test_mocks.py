"""The mock upstreams answer the SPEC §9 protocol from SPEC §10 data files."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from service.datafiles import DataFileError
from service.mocks import mock_server_config
from service.mocks.addresses import create_addresses_app
from service.mocks.registry import create_registry_app

AIGERIM = "900101300126"
BOLAT = "791028302728"
UNKNOWN = "061211600012"
BAD_CHECKSUM = "900101300127"
RCA = "0203000123450001"


def person(iin: str, **changes: Any) -> dict[str, Any]:
    return {
        "iin": iin,
        "surname": "Сейтқали",
        "given_name": "Айгерім",
        "patronymic": None,
        "birth_date": "1990-01-01",
        "sex": "F",
        "citizenship": "KAZ",
        "death_date": None,
        "legal_capacity": "full",
        "custody": "none",
        "data_as_of": "2026-11-01T00:00:00Z",
        **changes,
    }


def registration(iin: str, **changes: Any) -> dict[str, Any]:
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


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


@pytest.fixture
def population(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "population.jsonl",
        [
            dumps(person(AIGERIM, nickname="ignored")),
            "",
            dumps(person(BOLAT, sex="M", custody="pretrial", death_date="2024-05-06")),
        ],
    )


@pytest.fixture
def registrations(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "registrations.jsonl",
        [
            dumps(registration(AIGERIM)),
            dumps(registration(BOLAT, flat="9")),
            dumps(
                registration(
                    AIGERIM,
                    kind="consular",
                    rca=None,
                    kato=None,
                    street=None,
                    house=None,
                    flat=None,
                    country="TUR",
                    city="Istanbul",
                    valid_from="2020-01-01",
                    valid_until="2030-12-31",
                )
            ),
        ],
    )


@pytest.fixture
async def registry(population: Path) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_registry_app(population))
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
        yield client


@pytest.fixture
async def addresses(registrations: Path) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_addresses_app(registrations))
    async with httpx.AsyncClient(transport=transport, base_url="http://addresses") as client:
        yield client


# Registry


async def test_registry_answers_a_known_person_with_the_spec_fields(
    registry: httpx.AsyncClient,
) -> None:
    response = await registry.post("/persons/lookup", json={"iin": AIGERIM})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == person(AIGERIM)


async def test_registry_serves_each_person_from_their_own_line(
    registry: httpx.AsyncClient,
) -> None:
    response = await registry.post("/persons/lookup", json={"iin": BOLAT})

    assert response.json() == person(BOLAT, sex="M", custody="pretrial", death_date="2024-05-06")


@pytest.mark.parametrize("iin", [UNKNOWN, BAD_CHECKSUM])
async def test_registry_answers_an_unknown_iin_with_a_not_found_problem(
    registry: httpx.AsyncClient, iin: str
) -> None:
    response = await registry.post("/persons/lookup", json={"iin": iin})

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Person not found",
        "status": 404,
        "code": "PERSON_NOT_FOUND",
    }


MALFORMED_BODIES = [
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"{}", id="no-iin"),
    pytest.param(b'{"iin": 900101300126}', id="iin-not-a-string"),
    pytest.param(b'{"iin": "90010130012"}', id="iin-too-short"),
    pytest.param(b'{"iin": "900101300126", "name": "x"}', id="unknown-field"),
    pytest.param(b'["900101300126"]', id="not-an-object"),
]


@pytest.mark.parametrize("body", MALFORMED_BODIES)
async def test_registry_refuses_a_malformed_lookup_without_echoing_it(
    registry: httpx.AsyncClient, body: bytes
) -> None:
    response = await registry.post(
        "/persons/lookup", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "MALFORMED_REQUEST"
    assert AIGERIM not in response.text
    assert "90010130012" not in response.text


async def test_registry_is_healthy_once_loaded(registry: httpx.AsyncClient) -> None:
    response = await registry.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_registry_takes_no_iin_in_the_url(registry: httpx.AsyncClient) -> None:
    response = await registry.get(f"/persons/{AIGERIM}")

    assert response.status_code == 404


BAD_PERSON_LINES = [
    pytest.param('{"iin": "900101300126", "surname": ', "json_invalid", id="invalid-json"),
    pytest.param(
        dumps({k: v for k, v in person(BOLAT).items() if k != "birth_date"}),
        "birth_date: missing",
        id="missing-field",
    ),
    pytest.param(dumps(person(BAD_CHECKSUM)), "iin: value_error", id="bad-checksum"),
    pytest.param(dumps(person(AIGERIM)), "iin: duplicate", id="duplicate-iin"),
]


@pytest.mark.parametrize(("bad_line", "problem"), BAD_PERSON_LINES)
def test_registry_refuses_a_population_file_naming_the_bad_line_but_not_its_content(
    tmp_path: Path, bad_line: str, problem: str
) -> None:
    path = write_jsonl(
        tmp_path / "population.jsonl",
        [dumps(person(AIGERIM)), "", bad_line, dumps(person(UNKNOWN))],
    )

    with pytest.raises(DataFileError) as caught:
        create_registry_app(path)

    assert caught.value.line_number == 3
    assert problem in caught.value.problem
    message = str(caught.value)
    assert "line 3" in message
    for leaked in (AIGERIM, BOLAT, BAD_CHECKSUM, "Сейтқали", "Айгерім"):
        assert leaked not in message


# Address service


async def test_addresses_answer_every_registration_of_a_person_in_file_order(
    addresses: httpx.AsyncClient,
) -> None:
    response = await addresses.post("/registrations/lookup", json={"iin": AIGERIM})

    assert response.status_code == 200
    lines = response.json()["registrations"]
    assert [line["kind"] for line in lines] == ["permanent", "consular"]
    assert lines[0] == registration(AIGERIM)
    assert lines[1]["country"] == "TUR"
    assert lines[1]["valid_until"] == "2030-12-31"


async def test_addresses_answer_an_empty_list_for_a_person_without_registrations(
    addresses: httpx.AsyncClient,
) -> None:
    response = await addresses.post("/registrations/lookup", json={"iin": UNKNOWN})

    assert response.status_code == 200
    assert response.json() == {"registrations": []}


@pytest.mark.parametrize("body", MALFORMED_BODIES)
async def test_addresses_refuse_a_malformed_lookup(
    addresses: httpx.AsyncClient, body: bytes
) -> None:
    response = await addresses.post("/registrations/lookup", content=body)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "MALFORMED_REQUEST"


async def test_addresses_describe_a_registered_address_by_its_rca(
    addresses: httpx.AsyncClient,
) -> None:
    response = await addresses.get(f"/addresses/{RCA}")

    assert response.status_code == 200
    # The first line naming the RCA describes the address.
    assert response.json() == {
        "rca": RCA,
        "kato": "751110000",
        "street": "Абай даңғылы",
        "house": "12А",
        "flat": "5",
    }


async def test_addresses_answer_an_unknown_rca_with_a_not_found_problem(
    addresses: httpx.AsyncClient,
) -> None:
    response = await addresses.get("/addresses/0203000999999999")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "ADDRESS_NOT_FOUND"


async def test_addresses_are_healthy_once_loaded(addresses: httpx.AsyncClient) -> None:
    response = await addresses.get("/healthz")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("bad_line", "problem"),
    [
        pytest.param("{", "json_invalid", id="invalid-json"),
        pytest.param(
            dumps({k: v for k, v in registration(BOLAT).items() if k != "kind"}),
            "kind: missing",
            id="missing-field",
        ),
        pytest.param(dumps(registration(BAD_CHECKSUM)), "iin: value_error", id="bad-checksum"),
    ],
)
def test_addresses_refuse_a_registrations_file_naming_the_bad_line_but_not_its_content(
    tmp_path: Path, bad_line: str, problem: str
) -> None:
    path = write_jsonl(tmp_path / "registrations.jsonl", [dumps(registration(AIGERIM)), bad_line])

    with pytest.raises(DataFileError) as caught:
        create_addresses_app(path)

    assert caught.value.line_number == 2
    assert problem in caught.value.problem
    for leaked in (AIGERIM, BOLAT, BAD_CHECKSUM, "Абай"):
        assert leaked not in str(caught.value)


# Over real TCP, as `voterctl mock registry` runs it


@pytest.fixture
def served_registry(population: Path) -> Iterator[str]:
    app: FastAPI = create_registry_app(population)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    server = uvicorn.Server(mock_server_config(app, host=host, port=port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started"
            assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


async def test_registry_mock_answers_over_tcp_when_served_by_uvicorn(
    served_registry: str,
) -> None:
    async with httpx.AsyncClient(base_url=served_registry, timeout=5) as client:
        found, missing = await asyncio.gather(
            client.post("/persons/lookup", json={"iin": AIGERIM}),
            client.post("/persons/lookup", json={"iin": UNKNOWN}),
        )

    assert found.status_code == 200
    assert found.json() == person(AIGERIM)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
