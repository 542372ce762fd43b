"""Witnesses (SPEC §17): an observer registers a key, cosigns checkpoints that extend the last
one it cosigned, and refuses, with a report of both heads, a log that forks or rolls back.

A forked log is two databases under the same signing key that hold different histories (as
a log serving one history to one observer and another to a second would); a rolled-back log
is the same log served shorter than a checkpoint the witness cosigned. A clean log that only
grows is cosigned round after round (the negative control).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.api.app import create_app
from service.audit.note import NoteSigner, VerifierKey, parse_note
from service.audit.witness import Verdict
from service.cli import EXIT_FORK, app
from service.clock import FixedClock
from service.domain.caller import Role
from service.operator.cosigner import Cosigned, Refused, cosign_once
from tests.databases import drop_database, new_database_url, on_postgres
from tests.merkle_reference import independent_open_note
from tests.support import (
    ELECTION_ID,
    NOW,
    PEOPLE,
    Country,
    Keys,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    serving,
    token,
)

runner = CliRunner()
IINS = [spec["iin"] for spec in PEOPLE.values()]
WITNESS = "observers.example.org/witness-1"


def env_of(database_url: str, keys: Keys) -> dict[str, str]:
    return {
        "VOTER_ENV": "dev",
        "VOTER_DATABASE_URL": database_url,
        "VOTER_AUDIT_SIGNING_KEY": keys.audit_signing,
    }


@contextmanager
def log_at(database_url: str, keys: Keys, country: Country) -> Iterator[TestClient]:
    settings = make_settings(database_url, keys, audit_checkpoint_every=1)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country)) as (_, client):
        yield client


def decide(client: TestClient, keys: Keys, iins: list[str]) -> None:
    auth = {"Authorization": f"Bearer {token(keys, Role.EGOV)}"}
    for iin in iins:
        response = client.post(
            "/v1/eligibility/check", json={"iin": iin, "election_id": ELECTION_ID}, headers=auth
        )
        assert response.status_code == 200, response.text


def as_witness(client: TestClient, keys: Keys) -> TestClient:
    client.headers["Authorization"] = f"Bearer {token(keys, Role.WITNESS, subject='w1@obs')}"
    return client


def log_vkey(env: dict[str, str]) -> VerifierKey:
    result = runner.invoke(app, ["audit", "vkey"], env=env)
    assert result.exit_code == 0, result.output
    return VerifierKey.parse(result.stdout.strip())


def registered_witness(env: dict[str, str], tmp_path: Path, name: str = WITNESS) -> NoteSigner:
    key_file = tmp_path / f"{name.replace('/', '_')}.key"
    made = runner.invoke(app, ["witness", "keygen", "--name", name, "--out", str(key_file)])
    assert made.exit_code == 0, made.output
    assert key_file.stat().st_mode & 0o777 == 0o600
    registered = runner.invoke(app, ["witness", "register", made.stdout.strip()], env=env)
    assert registered.exit_code == 0, registered.output
    return NoteSigner.from_skey(key_file.read_text("ascii").strip())


def test_a_witness_cosigns_a_growing_log_round_after_round_and_it_is_witnessed(
    database_url: str, keys: Keys, country: Country, tmp_path: Path
) -> None:
    env = env_of(database_url, keys)
    signer = registered_witness(env, tmp_path)
    state = tmp_path / "state"
    with log_at(database_url, keys, country) as client:
        key = log_vkey(env)
        witness = as_witness(client, keys)
        decide(client, keys, IINS[:3])
        first = cosign_once(witness, signer=signer, state=state, log_key=key)
        decide(client, keys, IINS[3:8])
        second = cosign_once(witness, signer=signer, state=state, log_key=key)
        # Each kept cosignature is an audit entry, checkpointed: the log grew by one.
        again = cosign_once(witness, signer=signer, state=state, log_key=key)
        newest = witness.get("/v1/audit/checkpoint").json()
        served = witness.get("/v1/audit/checkpoint", params={"witnessed": "true"}).json()
        metrics = client.get("/metrics").text

    assert isinstance(first, Cosigned)
    assert isinstance(second, Cosigned)
    assert isinstance(again, Cosigned)
    assert (first.verdict, second.verdict, again.verdict) == (Verdict.COSIGN,) * 3
    assert first.size < second.size < again.size == second.size + 1
    assert (newest["size"], newest["cosigned_by"], newest["witnessed"]) == (
        again.size + 1,
        [],
        False,
    )
    assert (served["size"], served["cosigned_by"], served["witnessed"]) == (
        again.size,
        [WITNESS],
        True,
    )
    # The served note carries the witness's line, and an independent verifier (written from
    # the C2SP text) accepts both the log's signature and the witness's.
    note = served["note"]
    assert [s.name for s in parse_note(note).signatures] == [key.name, WITNESS]
    for vkey in (key, signer.verifier_key):
        lines = independent_open_note(note, str(vkey))
        assert lines[1] == str(again.size)
    assert "voter_audit_witnessed_checkpoint_age_seconds " in metrics


@contextmanager
def other_log(tmp_path: Path, keys: Keys, country: Country, iins: list[str]) -> Iterator[str]:
    """The same log's key over another database: another history under the same name."""
    (tmp_path / "other").mkdir(exist_ok=True)
    url = new_database_url(tmp_path / "other")
    try:
        yield url
    finally:
        if on_postgres():
            drop_database(url)


@contextmanager
def served(database_url: str, keys: Keys, country: Country, iins: list[str]) -> Iterator[str]:
    """The service over HTTP on a loopback port, after ``iins`` were checked."""
    settings = make_settings(database_url, keys, audit_checkpoint_every=1)
    load_reference(settings, country)
    with serving(
        create_app(settings, clock=FixedClock(NOW), transports=mock_transports(country))
    ) as url:
        auth = {"Authorization": f"Bearer {token(keys, Role.EGOV)}"}
        with httpx.Client(base_url=url, headers=auth) as client:
            for iin in iins:
                answer = client.post(
                    "/v1/eligibility/check", json={"iin": iin, "election_id": ELECTION_ID}
                )
                assert answer.status_code == 200, answer.text
        yield url


def test_a_fork_is_refused_and_both_heads_reported_through_the_command_line(
    database_url: str, keys: Keys, country: Country, tmp_path: Path
) -> None:
    env = env_of(database_url, keys)
    registered_witness(env, tmp_path)
    key_file = next(tmp_path.glob("*.key"))
    state = tmp_path / "state"
    vkey = log_vkey(env)
    witness_token = token(keys, Role.WITNESS, subject="w1@obs")
    cosign = ["witness", "cosign", "--key", str(key_file), "--state", str(state)]
    cosign += ["--token", witness_token]
    with served(database_url, keys, country, IINS[:4]) as url:
        first = runner.invoke(app, [*cosign, "--server", url, "--log-key", str(vkey)], env=env)
    # The other history: the same key, other decisions, a longer log.
    with (
        other_log(tmp_path, keys, country, []) as other_url,
        served(other_url, keys, country, list(reversed(IINS))) as url,
    ):
        refused = runner.invoke(app, [*cosign, "--server", url], env=env)
        auth = {"Authorization": f"Bearer {witness_token}"}
        cosigned_by = httpx.get(f"{url}/v1/audit/checkpoint", headers=auth).json()["cosigned_by"]

    assert first.exit_code == 0, first.output
    assert "cosigned size" in first.stdout
    assert refused.exit_code == EXIT_FORK, refused.output
    # (The served app's request log shares the process's stderr.)
    assert "\nFORK: two different roots" in refused.stderr or "\nFORK: the tree of size" in (
        refused.stderr
    )
    [report] = state.glob("report-*.txt")
    text = report.read_text("utf-8")
    assert text.startswith(f"FORK of log {vkey.name}\n")
    assert text.count(f"— {vkey.name} ") == 2  # both heads, each with the log's signature
    assert cosigned_by == []  # nothing was cosigned on the fork


def test_a_log_rolled_back_below_a_cosigned_checkpoint_is_refused(
    database_url: str, keys: Keys, country: Country, tmp_path: Path
) -> None:
    env = env_of(database_url, keys)
    signer = registered_witness(env, tmp_path)
    state = tmp_path / "state"
    with log_at(database_url, keys, country) as client:
        key = log_vkey(env)
        decide(client, keys, IINS)
        assert isinstance(
            cosign_once(as_witness(client, keys), signer=signer, state=state, log_key=key),
            Cosigned,
        )
    # The same history, shorter: what a log restored from an older backup serves.
    with other_log(tmp_path, keys, country, []) as url, log_at(url, keys, country) as shorter:
        decide(shorter, keys, IINS[:2])
        outcome = cosign_once(as_witness(shorter, keys), signer=signer, state=state, log_key=key)

    assert isinstance(outcome, Refused)
    assert outcome.kind == "rollback"
    assert outcome.report.read_text("utf-8").startswith("ROLLBACK of log ")


def key_name(note: str) -> str:
    return note.splitlines()[0]


def _posted(client: TestClient, keys: Keys, note: str, role: Role = Role.WITNESS) -> Any:
    return client.post(
        "/v1/audit/cosignatures",
        json={"note": note},
        headers={"Authorization": f"Bearer {token(keys, role, subject='w@obs')}"},
    )


def test_only_a_registered_witness_valid_signature_over_a_served_note_is_kept(
    database_url: str, keys: Keys, country: Country, tmp_path: Path
) -> None:
    env = env_of(database_url, keys)
    signer = registered_witness(env, tmp_path)
    stranger = NoteSigner.generate("strangers.example/w")
    with log_at(database_url, keys, country) as client:
        decide(client, keys, IINS[:2])
        auditor = {"Authorization": f"Bearer {token(keys, Role.AUDITOR)}"}
        note = client.get("/v1/audit/checkpoint", headers=auditor).json()["note"]
        text = parse_note(note).text

        unregistered = _posted(client, keys, note + stranger.sign(text).line())
        line = signer.sign(text).line()
        raw = bytearray(base64.b64decode(line.split()[-1]))
        raw[-1] ^= 1
        broken = line.rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(raw)).decode() + "\n"
        bad_signature = _posted(client, keys, note + broken)
        other_text = text.replace(text.splitlines()[2], "A" * 43 + "=")
        unknown_head = _posted(client, keys, other_text + "\n" + signer.sign(other_text).line())
        malformed = _posted(client, keys, "not a note")
        huge_text = f"{key_name(note)}\n{2**64 - 1}\n{'A' * 43}=\n"
        huge = _posted(client, keys, huge_text + "\n" + signer.sign(huge_text).line())
        by_auditor = _posted(client, keys, note + line, role=Role.AUDITOR)
        kept = _posted(client, keys, note + line)
        twice = _posted(client, keys, note + line)
        entries = client.get("/v1/audit/entries", params={"limit": 1000}, headers=auditor).json()

    assert (unregistered.status_code, unregistered.json()["code"]) == (
        403,
        "WITNESS_NOT_REGISTERED",
    )
    assert (bad_signature.status_code, bad_signature.json()["code"]) == (
        422,
        "COSIGNATURE_INVALID",
    )
    assert (unknown_head.status_code, unknown_head.json()["code"]) == (404, "CHECKPOINT_NOT_FOUND")
    assert (malformed.status_code, malformed.json()["code"]) == (422, "VALIDATION_FAILED")
    # A tree size no database column holds: no such checkpoint, not a 500.
    assert (huge.status_code, huge.json()["code"]) == (404, "CHECKPOINT_NOT_FOUND")
    assert by_auditor.status_code == 403
    assert kept.status_code == 200, kept.text
    assert (kept.json()["added"], twice.json()["added"]) == ([WITNESS], [])
    kinds = [e["body"] for e in entries["items"] if '"kind":"audit.cosign"' in e["body"]]
    assert len(kinds) == 1  # one cosignature kept, one audit entry


@pytest.mark.parametrize("name", ["has space", "plus+sign", ""])
def test_keygen_refuses_a_name_a_vkey_cannot_carry(tmp_path: Path, name: str) -> None:
    result = runner.invoke(app, ["witness", "keygen", "--name", name, "--out", str(tmp_path / "k")])

    assert result.exit_code != 0
    assert not (tmp_path / "k").exists()
