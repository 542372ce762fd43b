"""voterctl as an operator uses it: exit codes and messages."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import EXIT_REFUSED, EXIT_TAMPERED, app
from service.domain.caller import Role
from tests.support import (
    ELECTION_ID,
    PEOPLE,
    PRECINCTS,
    Country,
    Keys,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
)

runner = CliRunner()


@pytest.fixture
def env(database_url: str, keys: Keys) -> dict[str, str]:
    return {
        "VOTER_ENV": "dev",
        "VOTER_DATABASE_URL": database_url,
        "VOTER_AUDIT_SIGNING_KEY": keys.audit_signing,
        "VOTER_AUDIT_HMAC_KEY": "cli-test-hmac-key-0123456789abcdef",
        "VOTER_JWT_PRIVATE_KEY": keys.jwt_private,
        "VOTER_JWT_PUBLIC_KEYS": json.dumps({"dev": keys.jwt_public}),
    }


def test_import_refuses_overlapping_boundaries_listing_each_conflict(
    tmp_path: Path, env: dict[str, str]
) -> None:
    overlapping = dict(PRECINCTS[1], id="75-0003", number=3)
    overlapping["segments"] = [{"street": "Абай даңғылы", "from": 10, "to": 20, "parity": "all"}]
    shared = dict(PRECINCTS[0], id="75-0004", number=4, segments=[], buildings=["R-1"])
    also = dict(PRECINCTS[0], id="75-0005", number=5, segments=[], buildings=["R-1"])
    path = tmp_path / "precincts.jsonl"
    rows = [*PRECINCTS, overlapping, shared, also]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    result = runner.invoke(app, ["import", "precincts", str(path)], env=env)
    assert result.exit_code == EXIT_REFUSED
    assert "refused: 3 boundary conflicts" in result.output
    assert "building: 75-0004 and 75-0005: building R-1" in result.output
    assert "segment: 75-0002 and 75-0003" in result.output
    assert "segment: 75-0001 and 75-0003" in result.output


def test_import_reports_a_bad_line_by_number(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "elections.jsonl"
    path.write_text('{"id": "a", "kind": "x", "voting_day": "2027-01-01"}\n{"id": "b"}\n')
    result = runner.invoke(app, ["import", "elections", str(path)], env=env)
    assert result.exit_code == EXIT_REFUSED
    assert "line 2" in result.output


def test_import_accepts_a_clean_set_and_audits_it(env: dict[str, str], country: Country) -> None:
    result = runner.invoke(app, ["import", "precincts", str(country.precincts)], env=env)
    assert result.exit_code == 0, result.output
    assert "imported 4 precincts" in result.output
    assert "audit seq 1" in result.output


def test_mock_refuses_a_bad_data_line_naming_it(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "population.jsonl"
    path.write_text("{not json}\n")
    result = runner.invoke(app, ["mock", "registry", "--data", str(path), "--port", "1"], env=env)
    assert result.exit_code == EXIT_REFUSED
    assert "line 1" in result.output


def test_token_mint_is_refused_in_production(env: dict[str, str]) -> None:
    prod = {**env, "VOTER_ENV": "prod"}
    result = runner.invoke(app, ["token", "mint", "--sub", "a", "--role", "egov"], env=prod)
    assert result.exit_code == EXIT_REFUSED
    assert "refusing production configuration" in result.output


def test_token_mint_signs_a_token_the_service_accepts(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["token", "mint", "--sub", "a", "--role", "egov"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.count(".") == 2


def test_audit_verify_passes_then_names_the_seq_after_one_byte_is_changed(
    tmp_path: Path, env: dict[str, str], keys: Keys, country: Country
) -> None:
    # SQLite on purpose: the attacker edits the file with the sqlite3 module, as an
    # operator with shell access could (tests/integration/test_postgres.py does it there).
    database = tmp_path / "tampered.db"
    env = {**env, "VOTER_DATABASE_URL": f"sqlite:///{database}"}
    settings = make_settings(f"sqlite:///{database}", keys)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country)) as (_, client):
        receipts = [
            client.post(
                "/v1/eligibility/check",
                json={"iin": spec["iin"], "election_id": ELECTION_ID},
                headers={"Authorization": f"Bearer {token(keys, Role.EGOV)}"},
            ).json()["audit"]["seq"]
            for spec in PEOPLE.values()
        ]
    ok = runner.invoke(app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert f"ok: {receipts[-1]} entries" in ok.output

    target = receipts[4]
    with sqlite3.connect(database) as connection:
        # The append-only triggers refuse edits; an attacker with the file drops them first.
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall():
            connection.execute(f"DROP TRIGGER {name}")
        connection.execute(
            'UPDATE audit_entries SET body = replace(body, \'"outcome":"\', \'"outcome":"X\')'
            " WHERE seq = ?",
            (target,),
        )
    tampered = runner.invoke(app, ["audit", "verify"], env=env)
    assert tampered.exit_code == EXIT_TAMPERED
    assert f"first bad seq {target}" in tampered.output
    assert "modified" in tampered.output


def test_audit_export_verifies_offline_with_the_public_key_alone(
    tmp_path: Path, env: dict[str, str], keys: Keys, country: Country
) -> None:
    settings = make_settings(env["VOTER_DATABASE_URL"], keys)
    load_reference(settings, country)
    export = tmp_path / "audit.jsonl"
    assert runner.invoke(app, ["audit", "export", "--out", str(export)], env=env).exit_code == 0
    public_key = tmp_path / "audit.pub.pem"
    public_key.write_text(keys.audit_public)
    # An observer has the export and the public key, and nothing else: even a production
    # setting with no service keys at all must not stop them.
    observer_env = {"VOTER_ENV": "prod"}
    result = runner.invoke(
        app,
        ["audit", "verify", "--file", str(export), "--public-key", str(public_key)],
        env=observer_env,
    )
    assert result.exit_code == 0, result.output
    assert "ok: 2 entries" in result.output
