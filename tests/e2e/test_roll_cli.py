"""``voterctl roll compile`` as an operator runs it: worker processes, real HTTP, exit codes."""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from service.cli import app
from service.mocks import mock_server_config
from service.mocks.addresses import create_addresses_app
from service.mocks.registry import create_registry_app
from service.roll.command import EXIT_UNAVAILABLE
from tests.support import ELECTION_ID, PEOPLE, Country, Keys, load_reference, make_settings

runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(mock: FastAPI, port: int) -> Iterator[str]:
    server = uvicorn.Server(mock_server_config(mock, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started"
            assert time.monotonic() < deadline, "uvicorn did not start within 20 s"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def env(database_url: str, keys: Keys, country: Country) -> dict[str, str]:
    load_reference(make_settings(database_url, keys), country)
    return {
        "VOTER_ENV": "dev",
        "VOTER_DATABASE_URL": database_url,
        "VOTER_AUDIT_SIGNING_KEY": keys.audit_signing,
        "VOTER_AUDIT_HMAC_KEY": "cli-test-hmac-key-0123456789abcdef",
        "VOTER_REGISTRY_URL": f"http://127.0.0.1:{_free_port()}",
        "VOTER_ADDRESSES_URL": f"http://127.0.0.1:{_free_port()}",
    }


def _compile(env: dict[str, str], out: Path) -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            "roll",
            "compile",
            "--election",
            ELECTION_ID,
            "--out",
            str(out),
            "--workers",
            "2",
            "--chunk-size",
            "4",
            "--batch-size",
            "3",
            "--attempts",
            "1",
        ],
        env=env,
    )
    return result.exit_code, result.output


def test_an_outage_exits_non_zero_and_the_same_command_resumes(
    env: dict[str, str], country: Country, tmp_path: Path
) -> None:
    out = tmp_path / "roll"
    registry_port = int(env["VOTER_REGISTRY_URL"].rsplit(":", 1)[1])
    addresses_port = int(env["VOTER_ADDRESSES_URL"].rsplit(":", 1)[1])

    with served(create_registry_app(country.population), registry_port):
        code, output = _compile(env, out)  # the address service is down
        assert code == EXIT_UNAVAILABLE, output
        assert "stopped: addresses unavailable (" in output
        assert "run the same command again" in output
        for spec in PEOPLE.values():
            assert spec["iin"] not in output

        with served(create_addresses_app(country.registrations), addresses_port):
            code, output = _compile(env, out)

    assert code == 0, output
    assert "(resumed)" in output
    chunks = -(-len(PEOPLE) // 4)  # --chunk-size 4
    assert f"{len(PEOPLE)} persons decided in {chunks} chunks" in output
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["persons"] == len(PEOPLE)
    assert summary["audit"]["decision_entries"] == len(PEOPLE)
    # Every listed voter counted once, by the way onto the list.
    assert sum(summary["basis"].values()) == summary["listed"]
    assert summary["basis"]["consular_registration"] == 1
    by_basis = ", ".join(f"{basis} {n}" for basis, n in summary["basis"].items())
    assert f"listed by basis: {by_basis}" in output
    listed = {
        row["iin"]: path.stem
        for path in (out / "precincts").glob("*.csv")
        for row in csv.DictReader(io.StringIO(path.read_text("utf-8")))
    }
    assert listed[PEOPLE["eligible_permanent"]["iin"]] == "75-0001"
    assert listed[PEOPLE["eligible_temporary"]["iin"]] == "75-0002"
    assert listed[PEOPLE["eligible_consular"]["iin"]] == "99-0001"
    assert listed[PEOPLE["pretrial"]["iin"]] == "75-0001"
    # SPEC §15: bars ended by voting day, and a person with a BIN-shaped number.
    assert listed[PEOPLE["sentence_ended"]["iin"]] == "75-0001"
    assert listed[PEOPLE["capacity_restored"]["iin"]] == "75-0002"
    assert listed[PEOPLE["bin_shaped_person"]["iin"]] == "75-0001"
    ineligibles = ("under_18", "not_citizen", "deceased", "incapacitated", "imprisoned")
    for ineligible in (*ineligibles, "sentence_runs"):
        assert PEOPLE[ineligible]["iin"] not in listed
    unassigned = (out / "unassigned.csv").read_text("utf-8")
    assert f"{PEOPLE['no_registration']['iin']}," in unassigned
    assert "DAY_REGISTRATION_AVAILABLE" in unassigned
    assert "NO_PRECINCT_FOR_ADDRESS" in unassigned

    verify = runner.invoke(app, ["audit", "verify"], env=env)
    assert verify.exit_code == 0, verify.output


def test_an_unknown_election_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["roll", "compile", "--election", "nope", "--out", str(tmp_path / "x")], env=env
    )

    assert result.exit_code == 2
    assert "refused: no election 'nope'" in result.output


def test_an_out_that_is_a_file_is_refused_without_a_traceback(
    env: dict[str, str], tmp_path: Path
) -> None:
    existing = tmp_path / "roll.csv"
    existing.write_text("someone's own file\n", "utf-8")

    for out in (existing, existing / "lists"):
        result = runner.invoke(
            app, ["roll", "compile", "--election", ELECTION_ID, "--out", str(out)], env=env
        )

        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit), result.exception
        assert f"voterctl: refused: --out {out.resolve()} is not a directory" in result.output
    assert existing.read_text("utf-8") == "someone's own file\n"
