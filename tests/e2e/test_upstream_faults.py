"""An upstream fault is `undetermined` (503), audited, never a guess."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx
import pytest

from service.adapters.pipeline import Transports
from service.domain.caller import Role
from service.mocks.addresses import create_addresses_app
from service.mocks.registry import create_registry_app
from tests.support import (
    ELECTION_ID,
    PEOPLE,
    Country,
    Keys,
    load_reference,
    make_settings,
    running_app,
    token,
)

DEADLINE_SECONDS = 0.5


def _status(code: int) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, json={"detail": "upstream broke"})


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


async def _hang(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(DEADLINE_SECONDS * 20)
    return httpx.Response(200, json={})


FAULTS: dict[str, Callable[[httpx.Request], object]] = {
    "500": _status(500),
    "503": _status(503),
    "502": _status(502),
    "plain 404 without the not-found code": lambda r: httpx.Response(404, text="no route"),
    "connection refused": _raise(httpx.ConnectError("refused")),
    "read timeout": _raise(httpx.ReadTimeout("slow")),
    "hangs past the deadline": _hang,
    "not json": lambda r: httpx.Response(200, content=b"<html>"),
    "json of the wrong shape": lambda r: httpx.Response(200, json={"hello": "world"}),
}


@pytest.mark.parametrize("broken", ["registry", "addresses"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_upstream_fault_is_undetermined_audited_and_within_the_deadline(
    database_url: str, keys: Keys, country: Country, broken: str, fault: str
) -> None:
    settings = make_settings(database_url, keys, upstream_deadline_seconds=DEADLINE_SECONDS)
    load_reference(settings, country)
    faulty = httpx.MockTransport(FAULTS[fault])  # type: ignore[arg-type]
    transports = Transports(
        registry=faulty
        if broken == "registry"
        else httpx.ASGITransport(app=create_registry_app(country.population)),
        addresses=faulty
        if broken == "addresses"
        else httpx.ASGITransport(app=create_addresses_app(country.registrations)),
    )
    with running_app(settings, transports) as (_, client):
        started = time.monotonic()
        response = client.post(
            "/v1/eligibility/check",
            json={"iin": PEOPLE["eligible_permanent"]["iin"], "election_id": ELECTION_ID},
            headers={"Authorization": f"Bearer {token(keys, Role.EGOV)}"},
        )
        elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert elapsed < DEADLINE_SECONDS + 1.0
        problem = response.json()
        assert problem["code"] == "UNDETERMINED"
        assert problem["outcome"] == "undetermined"
        assert problem["upstream"] == broken
        assert int(response.headers["retry-after"]) >= 1
        assert "eligible" not in {problem.get("outcome")}
        entries = client.get(
            "/v1/audit/entries",
            params={"after_seq": problem["audit"]["seq"] - 1, "limit": 1},
            headers={"Authorization": f"Bearer {token(keys, Role.AUDITOR)}"},
        ).json()["items"]
        body = json.loads(entries[0]["body"])
        assert entries[0]["entry_hash"] == problem["audit"]["entry_hash"]
        assert body["kind"] == "eligibility.check"
        assert body["payload"]["outcome"] == "undetermined"
        assert body["payload"]["upstream"] == broken
        assert body["subject"].startswith("v1:")
