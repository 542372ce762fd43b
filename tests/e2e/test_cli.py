"""voterctl as an operator uses it: exit codes and messages."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from service.cli import EXIT_REFUSED, EXIT_TAMPERED, EXIT_UNSIGNED, app
from service.clock import SystemClock
from service.domain.caller import Role
from tests.clocks import FakeClock
from tests.support import (
    ELECTION_ID,
    NOW,
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
    first = (
        '{"id": "a", "kind": "presidential", "voting_day": "2027-01-01", "called_on": "2026-11-01"}'
    )
    path.write_text(first + '\n{"id": "b"}\n')
    result = runner.invoke(app, ["import", "elections", str(path)], env=env)
    assert result.exit_code == EXIT_REFUSED
    assert "line 2" in result.output


def test_import_refuses_an_unknown_election_kind_saying_which_kinds_there_are(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = tmp_path / "elections.jsonl"
    path.write_text('{"id": "a", "kind": "local", "voting_day": "2027-01-01"}\n')
    result = runner.invoke(app, ["import", "elections", str(path)], env=env)
    assert result.exit_code == EXIT_REFUSED
    assert "line 1" in result.output
    assert "unknown election kind 'local'; one of presidential, kurultai" in result.output


def test_import_refuses_a_local_election_without_its_territory(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = tmp_path / "elections.jsonl"
    path.write_text(
        '{"id": "m", "kind": "maslikhat", "voting_day": "2027-03-21", "called_on": "2027-01-20"}\n'
    )
    result = runner.invoke(app, ["import", "elections", str(path)], env=env)
    assert result.exit_code == EXIT_REFUSED
    assert "a maslikhat election needs its territory: a list of KATO prefixes" in result.output


def test_import_accepts_a_clean_set_and_audits_it(env: dict[str, str], country: Country) -> None:
    result = runner.invoke(app, ["import", "precincts", str(country.precincts)], env=env)
    assert result.exit_code == 0, result.output
    assert "imported 4 precincts" in result.output
    assert "audit seq 1" in result.output


def test_data_generate_prints_the_shape_table_and_its_precincts_import_cleanly(
    tmp_path: Path, env: dict[str, str]
) -> None:
    out = tmp_path / "country"
    generated = runner.invoke(
        app, ["data", "generate", "--persons", "20000", "--out", str(out), "--workers", "1"]
    )
    imported = runner.invoke(app, ["import", "precincts", str(out / "precincts.jsonl")], env=env)

    assert generated.exit_code == 0, generated.output
    lines = generated.output.splitlines()
    assert any(line.startswith("figure") and "deviation" in line for line in lines)
    for label in ("voters", "under-18 share", "registered abroad", "villages", "  in countries"):
        assert any(line.startswith(label) for line in lines), label
    assert "targets: the published figures at 20,000,000 persons scaled to 20,000" in lines[-1]
    assert imported.exit_code == 0, imported.output
    assert "imported" in imported.output


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


def test_token_mint_names_the_precincts_a_commission_member_serves(env: dict[str, str]) -> None:
    command = ["token", "mint", "--sub", "member@pec", "--role", "commission"]
    result = runner.invoke(
        app, [*command, "--precinct", "75-0002", "--precinct", "75-0001"], env=env
    )
    assert result.exit_code == 0, result.output
    payload = result.output.strip().split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["precincts"] == ["75-0001", "75-0002"]

    refused = runner.invoke(app, [*command, "--precinct", "75 0001"], env=env)
    assert refused.exit_code == EXIT_REFUSED
    assert "precinct ids are 1-32 letters, digits or hyphens" in refused.output


def test_token_mint_names_the_organisation_the_account_acts_for(env: dict[str, str]) -> None:
    command = ["token", "mint", "--sub", "clerk@egov", "--role", "egov"]
    result = runner.invoke(app, [*command, "--org", "egov"], env=env)
    assert result.exit_code == 0, result.output
    payload = result.output.strip().split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["org"] == "egov"

    refused = runner.invoke(app, [*command, "--org", "Gov for Citizens"], env=env)
    assert refused.exit_code == EXIT_REFUSED
    assert "an organisation id is 1-64 lower-case letters" in refused.output


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


def _decided(env: dict[str, str], keys: Keys, country: Country, *, checks: int) -> None:
    """Two reference imports then ``checks`` decisions, with a checkpoint every 3 entries."""
    settings = make_settings(env["VOTER_DATABASE_URL"], keys, audit_checkpoint_every=3)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country)) as (_, client):
        for spec in list(PEOPLE.values())[:checks]:
            _decide(client, keys, spec["iin"])


def _decide(client: TestClient, keys: Keys, iin: str) -> None:
    response = client.post(
        "/v1/eligibility/check",
        json={"iin": iin, "election_id": ELECTION_ID},
        headers={"Authorization": f"Bearer {token(keys, Role.EGOV)}"},
    )
    assert response.status_code == 200, response.text


def _verify(env: dict[str, str], *args: str) -> Result:
    return runner.invoke(app, ["audit", "verify", *args], env=env)


def test_audit_verify_reports_an_export_cut_after_the_last_checkpoint_as_unsigned(
    tmp_path: Path, env: dict[str, str], keys: Keys, country: Country
) -> None:
    _decided(env, keys, country, checks=3)  # entries 1-5, signed up to 3
    export = tmp_path / "audit.jsonl"
    assert runner.invoke(app, ["audit", "export", "--out", str(export)], env=env).exit_code == 0
    public_key = tmp_path / "audit.pub.pem"
    public_key.write_text(keys.audit_public)
    offline = ["--file", str(export), "--public-key", str(public_key)]

    intact = _verify({"VOTER_ENV": "prod"}, *offline)
    required = _verify({"VOTER_ENV": "prod"}, *offline, "--require-signed")
    from_database = _verify(env, "--require-signed")

    assert intact.exit_code == 0, intact.output
    assert "ok: 5 entries, 1 checkpoints verified" in intact.output
    assert "UNSIGNED: 2 entries (seq 4-5) covered by no signed checkpoint" in intact.output
    for refused in (required, from_database):
        assert refused.exit_code == EXIT_UNSIGNED, refused.output
        assert "UNSIGNED: 2 entries (seq 4-5)" in refused.output


def test_audit_verify_require_signed_passes_a_log_whose_every_entry_is_signed(
    tmp_path: Path, env: dict[str, str], keys: Keys, country: Country
) -> None:
    _decided(env, keys, country, checks=1)  # entries 1-3, signed up to 3
    export = tmp_path / "audit.jsonl"
    assert runner.invoke(app, ["audit", "export", "--out", str(export)], env=env).exit_code == 0

    for result in (_verify(env, "--require-signed"), _verify(env, "--file", str(export))):
        assert result.exit_code == 0, result.output
        assert "signed: all 3 entries covered by a checkpoint" in result.output
        assert "UNSIGNED" not in result.output


def test_audit_verify_help_names_the_unsigned_exit_code(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["audit", "verify", "--help"], env=env)
    assert result.exit_code == 0
    assert "--require-signed" in result.output
    assert f"Exit {EXIT_UNSIGNED}" in result.output


def test_a_service_on_a_fixed_clock_signs_its_tail_once_60_real_seconds_pass(
    env: dict[str, str], keys: Keys, country: Country, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo's situation: VOTER_CLOCK_FIXED holds the service clock still. Real time is a
    # FakeClock here, and the signer polls every 20 ms instead of every 5 s.
    monkeypatch.setattr("service.api.app.CHECKPOINT_POLL_SECONDS", 0.02)
    settings = make_settings(env["VOTER_DATABASE_URL"], keys, audit_checkpoint_every=3)
    load_reference(settings, country)
    wall = FakeClock(NOW.timestamp())
    auditor = {"Authorization": f"Bearer {token(keys, Role.AUDITOR)}"}
    with running_app(settings, mock_transports(country), wall_clock=SystemClock(wall)) as (
        _,
        client,
    ):
        for spec in list(PEOPLE.values())[:3]:
            _decide(client, keys, spec["iin"])
        time.sleep(0.2)  # ten polls: none signs, the checkpoint at 3 is not a minute old
        unsigned = _verify(env, "--require-signed")

        wall.advance(60)
        deadline = time.monotonic() + 10
        while client.get("/v1/audit/checkpoint", headers=auditor).json()["size"] != 5:
            assert time.monotonic() < deadline, "no checkpoint signed the tail"
            time.sleep(0.02)
        signed = _verify(env, "--require-signed")

    assert unsigned.exit_code == EXIT_UNSIGNED, unsigned.output
    assert "UNSIGNED: 2 entries (seq 4-5)" in unsigned.output
    assert signed.exit_code == 0, signed.output
    assert "signed: all 5 entries covered by a checkpoint" in signed.output
