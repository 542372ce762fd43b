"""Disk full and database unavailable (issue 6): 503, nothing acknowledged, then recovery.

The app runs in process against a real SQLite file. "Disk full" is SQLite's own limit on the
database size (PRAGMA max_page_count) applied to every writer connection the app checks out,
so writes fail with SQLITE_FULL as on a full volume; "unavailable" is another process holding
the database's write lock past the busy timeout. Either way the caller gets a 503
problem+json and no receipt, the audit log holds no partial entry, and once the space or the
lock comes back the same app (no restart) answers and records again.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from service.domain.caller import Role
from tests.durability import Acknowledged, check_durability
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

VOTER = PEOPLE["eligible_permanent"]["iin"]
# Reference data loaded before each test: one audit entry per import, no decision.
IMPORT_ENTRIES = 2
# SQLite's default ceiling; "no cap" for the purpose of these tests.
UNCAPPED_PAGES = 1_073_741_823
FILL_ATTEMPTS = 500
BURST = 16
BUSY_TIMEOUT_MS = 300


class DatabaseErrors:
    """What the database itself said when it refused (the service logs only the error type)."""

    def __init__(self, engine: Engine) -> None:
        self.messages: list[str] = []
        event.listen(engine, "handle_error", self._note)

    def _note(self, context: Any) -> None:
        self.messages.append(str(context.original_exception))


class WriterPragma:
    """A PRAGMA set on each of the app's writer connections as it is checked out.

    Setting ``value`` takes effect from the next transaction on: pooled connections included.
    """

    def __init__(self, engine: Engine, name: str, value: int) -> None:
        self.name = name
        self.value = value
        event.listen(engine, "checkout", self._apply)

    def _apply(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA {self.name} = {self.value}")
        cursor.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    # SQLite on purpose, on both test passes: the faults below are SQLite's.
    return f"sqlite:///{tmp_path / 'voter.db'}"


@pytest.fixture
def app_and_client(
    sqlite_url: str, keys: Keys, country: Country
) -> Iterator[tuple[FastAPI, TestClient]]:
    settings = make_settings(sqlite_url, keys, retry_after_seconds=7)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country)) as running:
        running[1].headers["Authorization"] = f"Bearer {token(keys, Role.EGOV)}"
        yield running


def _check(client: TestClient) -> httpx.Response:
    return client.post("/v1/eligibility/check", json={"iin": VOTER, "election_id": ELECTION_ID})


def _burst(client: TestClient) -> list[httpx.Response]:
    """Concurrent checks, so that the recorder commits several decisions together."""
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        return list(pool.map(lambda _: _check(client), range(BURST)))


def _assert_storage_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "7"
    problem = response.json()
    assert problem["code"] == "SERVICE_UNAVAILABLE"
    # Nothing acknowledged: no decision, no receipt, no guess at an outcome.
    assert {"decision_id", "audit", "outcome"}.isdisjoint(problem)
    assert VOTER not in response.text


def _assert_durable(database_url: str, keys: Keys, acknowledged: list[Acknowledged]) -> None:
    report = check_durability(
        database_url, acknowledged=acknowledged, checkpoint_public_key=keys.audit_public
    )
    assert report.ok, report.describe()
    # No partial or orphan entry: the log is the imports plus exactly what was acknowledged.
    assert report.chain.entries_checked == IMPORT_ENTRIES + len(acknowledged)
    assert report.decisions == len(acknowledged)


def test_full_disk_is_503_without_acknowledgement_and_recovers_without_restart(
    app_and_client: tuple[FastAPI, TestClient], sqlite_url: str, keys: Keys
) -> None:
    app, client = app_and_client
    writer = app.state.services.database.writer
    page_cap = WriterPragma(writer, "max_page_count", UNCAPPED_PAGES)
    errors = DatabaseErrors(writer)
    first = _check(client)
    assert first.status_code == 200, first.text
    acknowledged = [Acknowledged.from_response_body(first.json())]

    # SQLite never caps below the current size: the file may not grow any more.
    page_cap.value = 1
    # Some may still fit in the last page; the rest are refused whole, never half-recorded.
    for response in _burst(client):
        if response.status_code == 200:
            acknowledged.append(Acknowledged.from_response_body(response.json()))
        else:
            _assert_storage_unavailable(response)
    _assert_durable(sqlite_url, keys, acknowledged)
    refused: httpx.Response | None = None
    for _ in range(FILL_ATTEMPTS):
        # Decisions keep landing while the last free page has room; then the disk is full.
        response = _check(client)
        if response.status_code != 200:
            refused = response
            break
        acknowledged.append(Acknowledged.from_response_body(response.json()))
    assert refused is not None, f"{FILL_ATTEMPTS} decisions fitted into a full database"
    _assert_storage_unavailable(refused)
    for _ in range(3):
        _assert_storage_unavailable(_check(client))
    assert errors.messages, "the 503s did not come from the database"
    assert set(errors.messages) == {"database or disk is full"}
    print(f"{len(acknowledged)} decisions were recorded before the disk was full")
    _assert_durable(sqlite_url, keys, acknowledged)

    page_cap.value = UNCAPPED_PAGES  # space is back
    recovered = _check(client)
    assert recovered.status_code == 200, recovered.text
    acknowledged.append(Acknowledged.from_response_body(recovered.json()))
    assert recovered.json()["audit"]["seq"] == IMPORT_ENTRIES + len(acknowledged)
    burst = _burst(client)
    assert [r.status_code for r in burst] == [200] * BURST
    acknowledged += [Acknowledged.from_response_body(r.json()) for r in burst]
    _assert_durable(sqlite_url, keys, acknowledged)


LOCK_HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
connection.rollback()
"""


def test_database_locked_by_another_process_is_503_and_recovers_without_restart(
    app_and_client: tuple[FastAPI, TestClient], sqlite_url: str, keys: Keys
) -> None:
    app, client = app_and_client
    writer = app.state.services.database.writer
    # How long a writer waits for the lock before it gives up: 30 s in service, short here.
    WriterPragma(writer, "busy_timeout", BUSY_TIMEOUT_MS)
    errors = DatabaseErrors(writer)
    first = _check(client)
    assert first.status_code == 200, first.text
    acknowledged = [Acknowledged.from_response_body(first.json())]

    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, sqlite_url.removeprefix("sqlite:///")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        for _ in range(3):
            _assert_storage_unavailable(_check(client))
        assert set(errors.messages) == {"database is locked"}
        _assert_durable(sqlite_url, keys, acknowledged)
    finally:
        holder.communicate(timeout=30)  # the other process lets go
    assert holder.returncode == 0

    recovered = _check(client)
    assert recovered.status_code == 200, recovered.text
    acknowledged.append(Acknowledged.from_response_body(recovered.json()))
    _assert_durable(sqlite_url, keys, acknowledged)
