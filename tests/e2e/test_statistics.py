"""Public aggregates over HTTP (SPEC §17): no token, counts per precinct by source, outcome
and basis, list entries by kind, small counts suppressed with no totals beside them, the
CSV export saying the same, and every decision folded exactly once across restarts and
concurrent folders."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlmodel import select

from service.audit.log import AuditLog
from service.audit.signing import CheckpointSigner
from service.bootstrap import import_reference
from service.db.engine import open_database, read_session
from service.db.statistics import DecisionCountRow
from service.db.storage import SqlStorage
from service.domain.caller import Role
from service.domain.iin import complete_iin
from service.usecases.ports import ReferenceData
from service.usecases.statistics import StatisticsService
from tests.support import (
    ELECTION_ID,
    NOW,
    PEOPLE,
    PRECINCTS,
    Keys,
    MovableClock,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
    write_country,
)

RESIDENT = PEOPLE["eligible_permanent"]["iin"]  # permanent registration, precinct 75-0001
TEMPORARY = PEOPLE["eligible_temporary"]["iin"]
DECEASED = PEOPLE["deceased"]["iin"]  # ineligible, no precinct
HOSPITAL = "75-0900"


def _check(client: TestClient, keys: Keys, iin: str, times: int) -> None:
    auth = {"Authorization": f"Bearer {token(keys, Role.EGOV, subject='clerk@egov')}"}
    for _ in range(times):
        response = client.post(
            "/v1/eligibility/check", json={"iin": iin, "election_id": ELECTION_ID}, headers=auth
        )
        assert response.status_code == 200, response.text


def _cells(body: dict[str, Any]) -> dict[tuple[Any, ...], Any]:
    return {
        (d["precinct_id"], d["source"], d["outcome"], d["basis"]): (d["count"], d["suppressed"])
        for d in body["decisions"]
    }


def test_decisions_are_counted_per_precinct_and_small_counts_suppressed_without_a_token(
    database_url: str, keys: Keys, tmp_path: Path
) -> None:
    country = write_country(tmp_path / "country")
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country)) as (_, client):
        _check(client, keys, RESIDENT, 12)
        _check(client, keys, TEMPORARY, 3)
        _check(client, keys, DECEASED, 10)

        response = client.get(f"/v1/elections/{ELECTION_ID}/statistics")
        exported = client.get(f"/v1/elections/{ELECTION_ID}/statistics.csv")

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=30"
    body = response.json()
    assert _cells(body) == {
        ("75-0001", "check", "eligible", "permanent_registration"): (12, False),
        ("75-0002", "check", "eligible", "temporary_registration"): (None, True),
        (None, "check", "ineligible", None): (10, False),
    }
    assert (body["small_count"], body["list_entries"]) == (10, [])
    # Every entry of the log so far is folded: the answer is not behind.
    assert body["folded_seq"] >= 25
    # No person in it: neither an IIN nor a pseudonym.
    for secret in (RESIDENT, TEMPORARY, DECEASED, "v1:"):
        assert secret not in response.text
        assert secret not in exported.text
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(
        (r["table"], r["precinct_id"], r["source"], r["outcome"], r["basis"], r["count"])
        for r in rows
    ) == [
        ("decisions", "", "check", "ineligible", "", "10"),
        ("decisions", "75-0001", "check", "eligible", "permanent_registration", "12"),
        ("decisions", "75-0002", "check", "eligible", "temporary_registration", "<10"),
    ]


def test_an_unknown_election_is_a_404_problem(
    database_url: str, keys: Keys, tmp_path: Path
) -> None:
    country = write_country(tmp_path / "country")
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country)) as (_, client):
        response = client.get("/v1/elections/1999-nothing/statistics")

    assert response.status_code == 404
    assert response.json()["code"] == "ELECTION_NOT_FOUND"


def test_a_restarted_service_folds_on_from_where_it_stopped_never_twice(
    database_url: str, keys: Keys, tmp_path: Path
) -> None:
    country = write_country(tmp_path / "country")
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country)) as (_, client):
        _check(client, keys, RESIDENT, 11)
        first = client.get(f"/v1/elections/{ELECTION_ID}/statistics").json()
        _check(client, keys, RESIDENT, 4)
        # Within its 30 seconds the answer is the cached one.
        assert client.get(f"/v1/elections/{ELECTION_ID}/statistics").json() == first
    with running_app(settings, mock_transports(country)) as (_, client):
        _check(client, keys, RESIDENT, 5)
        again = client.get(f"/v1/elections/{ELECTION_ID}/statistics").json()

    key = ("75-0001", "check", "eligible", "permanent_registration")
    assert _cells(first)[key] == (11, False)
    assert _cells(again)[key] == (20, False)


def test_list_entries_in_force_are_counted_by_kind(
    database_url: str, keys: Keys, tmp_path: Path
) -> None:
    country = write_country(tmp_path / "country")
    hospital = {**PRECINCTS[0], "id": HOSPITAL, "number": 900, "name": "City Hospital No. 4"}
    hospital.update(kind="special", segments=[], buildings=[])
    with country.precincts.open("a", encoding="utf-8") as out:
        out.write(json.dumps(hospital, ensure_ascii=False) + "\n")
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    at = dt.datetime(2027, 3, 10, 12, tzinfo=ZoneInfo("Asia/Almaty"))
    clock = MovableClock(at)
    iins = [iin for n in range(30) if (iin := complete_iin(f"8001013{n:04d}"))][:12]
    with running_app(settings, mock_transports(country), clock=clock) as (_, client):
        operator = token(keys, Role.OPERATOR, subject="op@tec", now=clock.now())
        imported = client.post(
            "/v1/presence-lists",
            json={
                "election_id": ELECTION_ID,
                "precinct_id": HOSPITAL,
                "iins": iins,
                "document_ref": "hospital list",
            },
            headers={"Authorization": f"Bearer {operator}"},
        )
        assert imported.json()["added"] == 12, imported.text
        body = client.get(f"/v1/elections/{ELECTION_ID}/statistics").json()

    assert body["list_entries"] == [
        {"precinct_id": HOSPITAL, "kind": "special_presence", "count": 12, "suppressed": False}
    ]


class _Reference:
    async def current(self) -> ReferenceData:
        raise AssertionError("folding needs no reference data")


def test_concurrent_folders_count_every_decision_exactly_once(
    database_url: str, keys: Keys, tmp_path: Path
) -> None:
    country = write_country(tmp_path / "country")
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country)) as (_, client):
        _check(client, keys, RESIDENT, 40)
        _check(client, keys, DECEASED, 25)
    database = open_database(database_url)
    audit_log = AuditLog(CheckpointSigner(keys.audit_signing))
    # The app's background folder may have folded some already: fold the rest in small
    # batches from four threads at once, each its own service as replicas would be.
    folders = [
        StatisticsService(
            storage=SqlStorage(database, audit_log=audit_log),
            reference=_Reference(),
            clock=MovableClock(NOW),
        )
        for _ in range(4)
    ]

    def drain(folder: StatisticsService) -> None:
        while asyncio.run(folder.fold(batch=3)):
            pass

    try:
        import_reference(  # entries that are no decisions keep arriving meanwhile
            "precincts",
            country.precincts,
            database=database,
            audit_log=audit_log,
            actor="test",
            now=NOW,
        )
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(drain, folders))
        with read_session(database) as session:
            counts = {
                (r.precinct_id, r.outcome): r.count for r in session.exec(select(DecisionCountRow))
            }
    finally:
        database.dispose()

    assert counts == {("75-0001", "eligible"): 40, ("", "ineligible"): 25}
