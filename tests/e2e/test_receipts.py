"""A decision's receipt checked by an outsider (SPEC §17): a signed checkpoint note from
``GET /v1/audit/checkpoint``, an inclusion proof from ``GET /v1/audit/proofs/inclusion``, and
``voterctl audit verify-receipt`` offline or against the server. The proofs served also verify
with the independent RFC 9162 / signed-note reference of tests/merkle_reference.py.

Tampering: a rewritten entry, a log rolled back below a checkpoint an observer kept, and a log
forked (rolled back and grown again to the same size with other entries) are each caught by
verify-receipt; a clean log passes (the negative control). The attacker edits the SQLite file
with the sqlite3 module, as someone with the file could, dropping the append-only triggers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from service.cli import app
from service.domain.caller import Role
from tests.merkle_reference import (
    independent_open_note,
    reference_root_from_path,
    reference_verifies_consistency,
)
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

runner = CliRunner()
IINS = [spec["iin"] for spec in PEOPLE.values()]


@contextmanager
def serving(database_url: str, keys: Keys, country: Country) -> Iterator[TestClient]:
    """The service with a checkpoint after every entry (the two reference imports before it
    are signed with the first decision's checkpoint)."""
    settings = make_settings(database_url, keys, audit_checkpoint_every=1)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country)) as (_, client):
        yield client


def env_of(database_url: str, keys: Keys) -> dict[str, str]:
    return {
        "VOTER_ENV": "dev",
        "VOTER_DATABASE_URL": database_url,
        "VOTER_AUDIT_SIGNING_KEY": keys.audit_signing,
    }


def decide(client: TestClient, keys: Keys, iin: str) -> dict[str, Any]:
    response = client.post(
        "/v1/eligibility/check",
        json={"iin": iin, "election_id": ELECTION_ID},
        headers={"Authorization": f"Bearer {token(keys, Role.EGOV)}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def auditor(keys: Keys) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(keys, Role.AUDITOR)}"}


def checkpoint(client: TestClient, keys: Keys) -> dict[str, Any]:
    response = client.get("/v1/audit/checkpoint", headers=auditor(keys))
    assert response.status_code == 200, response.text
    return response.json()


def inclusion(client: TestClient, keys: Keys, seq: int, tree_size: int) -> httpx.Response:
    return client.get(
        "/v1/audit/proofs/inclusion",
        params={"seq": seq, "tree_size": tree_size},
        headers=auditor(keys),
    )


def vkey_of(env: dict[str, str]) -> str:
    result = runner.invoke(app, ["audit", "vkey"], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def write(path: Path, content: str | dict[str, Any]) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return path


def verify_receipt(env: dict[str, str], receipt: Path, note: Path, *args: str) -> Result:
    return runner.invoke(
        app,
        ["audit", "verify-receipt", str(receipt), "--checkpoint", str(note), *args],
        env=env,
    )


def test_a_decisions_receipt_verifies_offline_against_the_served_checkpoint(
    database_url: str, keys: Keys, country: Country, tmp_path: Path
) -> None:
    env = env_of(database_url, keys)
    with serving(database_url, keys, country) as client:
        decided = [decide(client, keys, iin) for iin in IINS[:5]]
        served = checkpoint(client, keys)
        seq = decided[2]["audit"]["seq"]
        proof = inclusion(client, keys, seq, served["size"])
    assert proof.status_code == 200, proof.text
    vkey = vkey_of(env)
    assert vkey.startswith("voters.election.kz/audit/v1+")

    result = verify_receipt(
        env,
        write(tmp_path / "decision.json", decided[2]),
        write(tmp_path / "checkpoint.json", served),
        "--proof",
        str(write(tmp_path / "proof.json", proof.text)),
        "--vkey",
        vkey,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"verified: seq {seq} (entry_hash {decided[2]['audit']['entry_hash'][:16]}...) is in "
        f"voters.election.kz/audit/v1 at tree size {served['size']}"
    )

    # The same, with code that shares nothing with the service: the note's signature, the
    # entry hash of chain.py's definition, and RFC 9162's PATH undone by recursion.
    origin, size, root_b64 = independent_open_note(served["note"], vkey)
    assert (origin, int(size)) == ("voters.election.kz/audit/v1", served["size"])
    answer = proof.json()
    body = answer["body"].encode()
    assert (
        hashlib.sha256(bytes.fromhex(answer["prev_hash"]) + body).hexdigest()
        == decided[2]["audit"]["entry_hash"]
    )
    assert json.loads(body)["seq"] == seq
    path = [bytes.fromhex(node) for node in answer["audit_path"]]
    leaf = hashlib.sha256(b"\x00" + body).digest()
    assert reference_root_from_path(leaf, seq - 1, int(size), path) == base64.b64decode(root_b64)
    assert answer["checkpoint"] == served["note"]


def test_the_checkpoint_keeps_its_json_signature_and_adds_the_note_and_root(
    database_url: str, keys: Keys, country: Country
) -> None:
    with serving(database_url, keys, country) as client:
        decide(client, keys, IINS[0])
        served = checkpoint(client, keys)
    assert {"size", "head_hash", "signed_at", "key_id", "signature", "public_key"} <= set(served)
    lines = served["note"].split("\n")
    assert lines[:3] == [
        "voters.election.kz/audit/v1",
        str(served["size"]),
        base64.b64encode(bytes.fromhex(served["root_hash"])).decode(),
    ]
    assert lines[3] == ""
    assert lines[4].startswith("\u2014 voters.election.kz/audit/v1 ")


def test_served_consistency_proofs_verify_with_the_independent_reference(
    database_url: str, keys: Keys, country: Country, tmp_path: Path
) -> None:
    env = env_of(database_url, keys)
    with serving(database_url, keys, country) as client:
        for iin in IINS[:6]:
            decide(client, keys, iin)
        head = checkpoint(client, keys)["size"]
        answers = {
            (first, second): client.get(
                "/v1/audit/proofs/consistency",
                params={"first": first, "second": second},
                headers=auditor(keys),
            )
            for first, second in ((3, head), (4, 7), (5, head - 1), (head, head))
        }
    vkey = vkey_of(env)
    for (first, second), response in answers.items():
        assert response.status_code == 200, response.text
        answer = response.json()
        roots = [
            base64.b64decode(independent_open_note(answer[name], vkey)[2])
            for name in ("first_checkpoint", "second_checkpoint")
        ]
        proof = [bytes.fromhex(node) for node in answer["proof"]]
        assert reference_verifies_consistency(first, second, proof, *roots), (first, second)


def test_verify_receipt_fetches_the_proof_from_the_server(
    database_url: str,
    keys: Keys,
    country: Country,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = env_of(database_url, keys)
    with serving(database_url, keys, country) as client:
        decided = decide(client, keys, IINS[0])
        note = write(tmp_path / "checkpoint.note", checkpoint(client, keys)["note"])
        receipt = write(tmp_path / "receipt.json", decided["audit"])
        through_client(monkeypatch, client)
        result = verify_receipt(
            env, receipt, note, "--server", "http://service", "--token", token(keys, Role.AUDITOR)
        )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"verified: seq {decided['audit']['seq']} ")


def through_client(monkeypatch: pytest.MonkeyPatch, client: TestClient) -> None:
    """verify-receipt's httpx.get served by the in-process app."""

    def get(url: str, **kwargs: Any) -> httpx.Response:
        kwargs.pop("timeout", None)
        return client.get(url.removeprefix("http://service"), **kwargs)

    monkeypatch.setattr(httpx, "get", get)


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("inclusion", {"seq": 0, "tree_size": 3}, 422, "VALIDATION_FAILED"),
        ("inclusion", {"seq": "x", "tree_size": 3}, 422, "VALIDATION_FAILED"),
        ("inclusion", {"seq": 1.5, "tree_size": 3}, 422, "VALIDATION_FAILED"),
        ("inclusion", {"seq": 1}, 422, "VALIDATION_FAILED"),
        ("inclusion", {"seq": 4, "tree_size": 3}, 422, "PROOF_RANGE_INVALID"),
        ("inclusion", {"seq": 1, "tree_size": 4}, 404, "TREE_SIZE_UNKNOWN"),
        ("inclusion", {"seq": 1, "tree_size": 2**53 + 1}, 422, "VALIDATION_FAILED"),
        ("consistency", {"first": 3, "second": 2}, 422, "PROOF_RANGE_INVALID"),
        ("consistency", {"first": 0, "second": 2}, 422, "VALIDATION_FAILED"),
        ("consistency", {"first": 1, "second": 4}, 404, "TREE_SIZE_UNKNOWN"),
        ("consistency", {"first": "1e3", "second": 4}, 422, "VALIDATION_FAILED"),
    ],
)
def test_bad_proof_parameters_are_problems_with_stable_codes(
    database_url: str,
    keys: Keys,
    country: Country,
    path: str,
    params: dict[str, Any],
    status: int,
    code: str,
) -> None:
    with serving(database_url, keys, country) as client:
        decide(client, keys, IINS[0])  # the log holds 3 entries
        response = client.get(f"/v1/audit/proofs/{path}", params=params, headers=auditor(keys))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


# --- tampering ---------------------------------------------------------------------------------


@contextmanager
def tampering(database: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall():
            connection.execute(f'DROP TRIGGER "{name}"')
        yield connection
    finally:
        connection.close()


def roll_back(database: Path, size: int) -> None:
    """Cut the log to its first ``size`` entries, with every row that hangs off the rest."""
    with tampering(database) as sql:
        sql.execute("DELETE FROM audit_entries WHERE seq > ?", (size,))
        sql.execute("DELETE FROM audit_checkpoints WHERE size > ?", (size,))
        sql.execute("DELETE FROM audit_tree WHERE ((node + 1) << level) > ?", (size,))
        sql.execute("DELETE FROM decisions WHERE audit_seq > ?", (size,))


@pytest.fixture
def sqlite_file(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "observed.db"
    return f"sqlite:///{path}", path


def test_a_rewritten_entry_fails_its_receipt_and_a_clean_one_passes(
    sqlite_file: tuple[str, Path], keys: Keys, country: Country, tmp_path: Path
) -> None:
    url, database = sqlite_file
    env = env_of(url, keys)
    with serving(url, keys, country) as client:
        decided = [decide(client, keys, iin) for iin in IINS[:4]]
        served = checkpoint(client, keys)
        seq = decided[1]["audit"]["seq"]
        clean = inclusion(client, keys, seq, served["size"]).text
        with tampering(database) as sql:
            sql.execute(
                "UPDATE audit_entries SET body = replace(body, '\"eligible\"', '\"ineligible\"') "
                "WHERE seq = ?",
                (seq,),
            )
        rewritten = inclusion(client, keys, seq, served["size"]).text
    note = write(tmp_path / "checkpoint.json", served)
    receipt = write(tmp_path / "receipt.json", decided[1])

    control = verify_receipt(env, receipt, note, "--proof", str(write(tmp_path / "p1", clean)))
    assert control.exit_code == 0, control.output
    caught = verify_receipt(env, receipt, note, "--proof", str(write(tmp_path / "p2", rewritten)))
    assert caught.exit_code == 1
    assert "NOT VERIFIED: entry_hash:" in caught.output
    audit_verify = runner.invoke(app, ["audit", "verify"], env=env)
    assert audit_verify.exit_code != 0
    assert f"first bad seq {seq}: modified" in audit_verify.output


def test_a_log_rolled_back_below_a_kept_checkpoint_cannot_prove_a_receipt(
    sqlite_file: tuple[str, Path],
    keys: Keys,
    country: Country,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, database = sqlite_file
    env = env_of(url, keys)
    with serving(url, keys, country) as client:
        decided = [decide(client, keys, iin) for iin in IINS[:5]]
        kept = write(tmp_path / "kept.json", checkpoint(client, keys))  # an observer's copy
        receipt = write(tmp_path / "receipt.json", decided[1])
        through_client(monkeypatch, client)
        auditor_token = token(keys, Role.AUDITOR)
        control = verify_receipt(
            env, receipt, kept, "--server", "http://service", "--token", auditor_token
        )
        roll_back(database, decided[2]["audit"]["seq"])
        caught = verify_receipt(
            env, receipt, kept, "--server", "http://service", "--token", auditor_token
        )
    assert control.exit_code == 0, control.output
    assert caught.exit_code == 1
    assert "TREE_SIZE_UNKNOWN" in caught.output
    assert "rolled back" in caught.output


def test_a_forked_log_fails_the_receipts_of_either_branch_against_the_other_branchs_head(
    sqlite_file: tuple[str, Path],
    keys: Keys,
    country: Country,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rolled back to seq 4 and grown again to the same size with other decisions: two heads
    for one size, each signed by the service."""
    url, database = sqlite_file
    env = env_of(url, keys)
    with serving(url, keys, country) as client:
        first_branch = [decide(client, keys, iin) for iin in IINS[:4]]
        first_head = checkpoint(client, keys)
        roll_back(database, first_branch[1]["audit"]["seq"])
        second_branch = [decide(client, keys, iin) for iin in IINS[4:6]]
        second_head = checkpoint(client, keys)
        assert second_head["size"] == first_head["size"]
        assert second_head["root_hash"] != first_head["root_hash"]
        through_client(monkeypatch, client)
        server = ("--server", "http://service", "--token", token(keys, Role.AUDITOR))
        old_note = write(tmp_path / "first.json", first_head)
        new_note = write(tmp_path / "second.json", second_head)
        old_receipt = write(tmp_path / "old.json", first_branch[3])
        new_receipt = write(tmp_path / "new.json", second_branch[1])
        # The server now serves the second branch.
        new_against_new = verify_receipt(env, new_receipt, new_note, *server)
        new_against_old = verify_receipt(env, new_receipt, old_note, *server)
        old_against_old = verify_receipt(env, old_receipt, old_note, *server)
    assert new_against_new.exit_code == 0, new_against_new.output  # the negative control
    assert new_against_old.exit_code == 1
    assert "NOT VERIFIED: inclusion:" in new_against_old.output
    assert old_against_old.exit_code == 1
    assert "NOT VERIFIED: entry_hash:" in old_against_old.output


def test_a_checkpoint_from_another_key_or_an_edited_note_is_refused(
    database_url: str, keys: Keys, country: Country, tmp_path: Path
) -> None:
    env = env_of(database_url, keys)
    with serving(database_url, keys, country) as client:
        decided = decide(client, keys, IINS[0])
        served = checkpoint(client, keys)
        proof = inclusion(client, keys, decided["audit"]["seq"], served["size"]).text
    receipt = write(tmp_path / "receipt.json", decided)
    proof_file = str(write(tmp_path / "proof.json", proof))
    edited = served["note"].replace(f"\n{served['size']}\n", f"\n{served['size'] + 1}\n")
    result = verify_receipt(
        env, receipt, write(tmp_path / "edited.note", edited), "--proof", proof_file
    )
    assert result.exit_code == 1
    assert "NOT VERIFIED: checkpoint: invalid signature" in result.output
    other = env_of(database_url, Keys(keys.jwt_private, keys.jwt_public, make_other_key()))
    result = verify_receipt(
        other, receipt, write(tmp_path / "c.json", served), "--proof", proof_file
    )
    assert result.exit_code == 1
    assert "NOT VERIFIED: checkpoint:" in result.output


def make_other_key() -> str:
    from service.audit.signing import generate_signing_key

    return generate_signing_key()
