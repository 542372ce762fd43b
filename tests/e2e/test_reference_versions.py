"""Reference data in versions (SPEC §16, issue 12): an import that would strand a live day
registration or override is refused, naming both; once they are undone it is accepted, and
two running replicas on the same database serve the new boundary set within 10 seconds,
without a restart. Records made under the old set still answer, never with a 500."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.cli import EXIT_REFUSED, app
from service.domain.caller import Role
from tests.support import (
    ELECTION_ID,
    ELECTIONS,
    PEOPLE,
    PRECINCTS,
    Country,
    Keys,
    MovableClock,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
)

runner = CliRunner()
VOTING_DAY = dt.date(2027, 3, 21)
MORNING = dt.datetime.combine(VOTING_DAY, dt.time(10, 0), tzinfo=ZoneInfo("Asia/Almaty"))
NO_REGISTRATION = PEOPLE["no_registration"]["iin"]
UNCOVERED = PEOPLE["uncovered_address"]["iin"]
TEMPORARY = PEOPLE["eligible_temporary"]["iin"]
# Replicas look for a new version every 5 s; SPEC §16 gives them 10.
SERVE_WITHIN_SECONDS = 10.0


@pytest.fixture
def env(database_url: str, keys: Keys) -> dict[str, str]:
    return {
        "VOTER_ENV": "dev",
        "VOTER_DATABASE_URL": database_url,
        "VOTER_AUDIT_SIGNING_KEY": keys.audit_signing,
        "VOTER_AUDIT_HMAC_KEY": "cli-test-hmac-key-0123456789abcdef",
        "VOTER_CLOCK_FIXED": MORNING.isoformat(),
    }


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def without(*ids: str) -> list[dict[str, Any]]:
    return [p for p in PRECINCTS if p["id"] not in ids]


def auth(keys: Keys, role: Role, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(keys, role, subject=subject, now=MORNING)}"}


def import_file(env: dict[str, str], kind: str, path: Path, *flags: str) -> Any:
    return runner.invoke(app, ["import", kind, str(path), *flags], env=env)


def audit_bodies(client: TestClient, keys: Keys) -> list[dict[str, Any]]:
    items = client.get(
        "/v1/audit/entries", params={"limit": 1000}, headers=auth(keys, Role.AUDITOR, "aud@cec")
    ).json()["items"]
    return [json.loads(e["body"]) for e in items]


def until(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``condition`` held; fails the test if it did not within ``seconds``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            pytest.fail(f"not within {seconds} s")
        time.sleep(0.2)
    return time.monotonic() - started


def test_an_import_that_would_strand_live_records_is_refused_then_served_by_every_replica(
    database_url: str, keys: Keys, country: Country, env: dict[str, str], tmp_path: Path
) -> None:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    clock = MovableClock(MORNING)
    transports = mock_transports(country)
    with (
        running_app(settings, transports, clock=clock) as (_, first),
        running_app(settings, mock_transports(country), clock=clock) as (_, second),
    ):
        registered = first.post(
            "/v1/day-registrations",
            json={"iin": NO_REGISTRATION, "election_id": ELECTION_ID, "precinct_id": "75-0002"},
            headers={**auth(keys, Role.EGOV, "clerk@egov"), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert registered.status_code == 201, registered.text
        registration_id = registered.json()["id"]
        created = first.post(
            "/v1/overrides",
            json={
                "iin": UNCOVERED,
                "election_id": ELECTION_ID,
                "kind": "assign",
                "precinct_id": "27-0001",
                "reason_code": "ADDRESS_NOT_COVERED",
                "reason_text": "new street not yet in the boundary set",
                "document_ref": "akimat letter 15/2027",
            },
            headers=auth(keys, Role.OPERATOR, "op-a@tec"),
        )
        assert created.status_code == 201, created.text
        override_id = created.json()["id"]
        approved = first.post(
            f"/v1/overrides/{override_id}/approve",
            json={},
            headers=auth(keys, Role.OPERATOR, "op-b@tec"),
        )
        assert approved.status_code == 200, approved.text

        def placed_at(client: TestClient) -> str | None:
            response = client.post(
                "/v1/eligibility/check",
                json={"iin": TEMPORARY, "election_id": ELECTION_ID},
                headers=auth(keys, Role.EGOV, "portal@egov"),
            )
            assert response.status_code == 200, response.text
            precinct = response.json()["precinct"]
            return None if precinct is None else str(precinct["id"])

        assert placed_at(first) == placed_at(second) == "75-0002"

        smaller = write_jsonl(tmp_path / "smaller.jsonl", without("75-0002", "27-0001"))
        dry = import_file(env, "precincts", smaller, "--dry-run")
        assert dry.exit_code == EXIT_REFUSED, dry.output
        assert "removed: 2: 27-0001, 75-0002" in dry.output
        refused = import_file(env, "precincts", smaller)
        assert refused.exit_code == EXIT_REFUSED, refused.output
        assert f"day_registration {registration_id}" in refused.output
        assert "precinct 75-0002): precinct_removed" in refused.output
        assert f"override {override_id}" in refused.output
        assert "precinct 27-0001): precinct_removed" in refused.output
        assert NO_REGISTRATION not in refused.output
        assert UNCOVERED not in refused.output

        # Undoing takes two operators: one asks, another approves.
        asked = first.post(
            f"/v1/day-registrations/{registration_id}/cancel",
            json={"reason": "registered at the wrong desk"},
            headers=auth(keys, Role.OPERATOR, "op-a@tec"),
        )
        assert asked.status_code == 202, asked.text
        still = import_file(env, "precincts", smaller)
        assert still.exit_code == EXIT_REFUSED, "a pending cancellation still holds the voter"
        cancelled = first.post(
            f"/v1/day-registrations/{registration_id}/cancel/approve",
            json={},
            headers=auth(keys, Role.OPERATOR, "op-b@tec"),
        )
        assert cancelled.status_code == 200, cancelled.text
        asked = first.post(
            f"/v1/overrides/{override_id}/revoke",
            json={"reason": "the street is in the new boundary set"},
            headers=auth(keys, Role.OPERATOR, "op-b@tec"),
        )
        assert asked.status_code == 202, asked.text
        revoked = first.post(
            f"/v1/overrides/{override_id}/revoke/approve",
            json={},
            headers=auth(keys, Role.OPERATOR, "op-a@tec"),
        )
        assert revoked.status_code == 200, revoked.text

        accepted = import_file(env, "precincts", smaller)
        assert accepted.exit_code == 0, accepted.output
        assert "as version 2" in accepted.output

        def serves_new_set(client: TestClient) -> Callable[[], bool]:
            def check() -> bool:
                response = client.get(
                    "/v1/precincts/75-0002", headers=auth(keys, Role.EGOV, "portal@egov")
                )
                return response.status_code == 404

            return check

        first_took = until(serves_new_set(first), SERVE_WITHIN_SECONDS)
        second_took = until(serves_new_set(second), SERVE_WITHIN_SECONDS)
        print(f"new version served after {first_took:.1f} s and {second_took:.1f} s")
        # The checks agree with the directory: no replica still places voters at 75-0002.
        assert placed_at(first) is None
        assert placed_at(second) is None

        # The cancelled registration still names its precinct as it was published.
        shown = second.get(
            f"/v1/day-registrations/{registration_id}", headers=auth(keys, Role.OPERATOR, "o@tec")
        )
        assert shown.status_code == 200, shown.text
        assert shown.json()["precinct"]["id"] == "75-0002"
        assert shown.json()["precinct"]["name"] == PRECINCTS[1]["name"]
        assert shown.json()["status"] == "cancelled"

        # Each decision records the version it used; the import itself is audited.
        checked = second.post(
            "/v1/eligibility/check",
            json={"iin": PEOPLE["eligible_permanent"]["iin"], "election_id": ELECTION_ID},
            headers=auth(keys, Role.EGOV, "portal@egov"),
        )
        assert checked.status_code == 200, checked.text
        bodies = audit_bodies(second, keys)
        imports = [b for b in bodies if b["kind"] == "reference.import"]
        assert [(b["payload"]["reference"], b["payload"]["version"]) for b in imports][-1] == (
            "precincts",
            2,
        )
        assert imports[-1]["payload"]["changes"]["removed"] == 2
        last = next(b for b in reversed(bodies) if b["kind"] == "eligibility.check")
        assert last["payload"]["reference"] == {"precincts": 2, "elections": 1}


def test_an_empty_precinct_file_is_refused_and_the_set_in_force_stays(
    database_url: str, keys: Keys, country: Country, env: dict[str, str], tmp_path: Path
) -> None:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = import_file(env, "precincts", empty)
    assert result.exit_code == EXIT_REFUSED
    assert "a version may not be empty" in result.output
    with running_app(settings, mock_transports(country), clock=MovableClock(MORNING)) as (
        _,
        client,
    ):
        listed = client.get("/v1/precincts", headers=auth(keys, Role.EGOV, "portal@egov"))
        assert listed.json()["total"] == len(PRECINCTS)


def test_a_dry_run_prints_the_diff_and_changes_nothing(
    database_url: str, keys: Keys, country: Country, env: dict[str, str], tmp_path: Path
) -> None:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    renamed = [dict(p) for p in PRECINCTS]
    renamed[0]["name"] = "Мектеп-гимназия № 12"
    renamed[2]["day_registration"] = False
    renamed.append(dict(PRECINCTS[3], id="27-0002", number=2, segments=[], buildings=[]))
    path = write_jsonl(tmp_path / "next.jsonl", renamed)
    result = import_file(env, "precincts", path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "precincts: version 1 -> 2" in result.output
    assert "added: 1: 27-0002" in result.output
    assert f"renamed: 1: {PRECINCTS[0]['id']}" in result.output
    assert f"redesignated: 1: {PRECINCTS[2]['id']}" in result.output
    assert "dry run: nothing changed" in result.output
    again = import_file(env, "precincts", path, "--dry-run")
    assert "precincts: version 1 -> 2" in again.output


def test_an_election_with_live_records_cannot_be_dropped(
    database_url: str, keys: Keys, country: Country, env: dict[str, str], tmp_path: Path
) -> None:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country), clock=MovableClock(MORNING)) as (
        _,
        client,
    ):
        registered = client.post(
            "/v1/day-registrations",
            json={"iin": NO_REGISTRATION, "election_id": ELECTION_ID, "precinct_id": "75-0002"},
            headers={**auth(keys, Role.EGOV, "clerk@egov"), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert registered.status_code == 201, registered.text
    others = write_jsonl(
        tmp_path / "elections.jsonl", [e for e in ELECTIONS if e["id"] != ELECTION_ID]
    )
    result = import_file(env, "elections", others)
    assert result.exit_code == EXIT_REFUSED, result.output
    assert f"day_registration {registered.json()['id']}" in result.output
    assert "election_removed" in result.output


def test_a_pending_override_holds_its_precinct_too(
    database_url: str, keys: Keys, country: Country, env: dict[str, str], tmp_path: Path
) -> None:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country), clock=MovableClock(MORNING)) as (
        _,
        client,
    ):
        created = client.post(
            "/v1/overrides",
            json={
                "iin": UNCOVERED,
                "election_id": ELECTION_ID,
                "kind": "assign",
                "precinct_id": "27-0001",
                "reason_code": "ADDRESS_NOT_COVERED",
                "reason_text": "new street not yet in the boundary set",
                "document_ref": "akimat letter 15/2027",
            },
            headers=auth(keys, Role.OPERATOR, "op-a@tec"),
        )
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "pending"
    smaller = write_jsonl(tmp_path / "smaller.jsonl", without("27-0001"))
    result = import_file(env, "precincts", smaller)
    assert result.exit_code == EXIT_REFUSED, result.output
    assert f"override {created.json()['id']} (election {ELECTION_ID} at precinct 27-0001)" in (
        result.output
    )
