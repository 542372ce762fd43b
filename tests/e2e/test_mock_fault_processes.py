"""`voterctl mock ... --error-rate ...` as real processes, the service calling them over TCP.

The in-process tests (test_upstream_resilience.py) inject every fault kind; here the mocks run
as an operator would start them, with seeded fault flags, and the service talks to them
through its real transport: a fault may cost an answer (503 undetermined), never its truth.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from service.adapters.pipeline import Transports
from service.cli import app as voterctl
from service.console import EXIT_REFUSED
from tests.e2e.test_upstream_resilience import EXPECTED, audit_bodies, check, head_seq
from tests.support import PEOPLE, Country, Keys, load_reference, make_settings, running_app

DEADLINE_SECONDS = 0.5
START_TIMEOUT_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def mock_process(
    kind: str, data: Path, log: Path, *fault_flags: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`voterctl mock KIND` on a free port until the block ends; yields its URL and process."""
    port = _free_port()
    command = [sys.executable, "-m", "service.cli", "mock", kind, "--data", str(data)]
    command += ["--port", str(port), *fault_flags]
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while True:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "mock did not start"
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield url, process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def test_seeded_faults_in_a_real_mock_process_never_turn_into_a_wrong_answer(
    database_url: str, keys: Keys, country: Country, tmp_path: Path
) -> None:
    # The faulty registry also answers 50 ms late, so the healthy address service has always
    # answered by then: a fault while the other lookup is still out is test_upstream_resilience's
    # xfail. The breaker is kept out of the way (it would refuse at once); its tests are there.
    faults = ["--error-rate", "0.25", "--malformed-rate", "0.1", "--reset-rate", "0.1"]
    faults += ["--latency-ms", "50", "--fault-seed", "5"]
    with (
        mock_process("registry", country.population, tmp_path / "registry.log", *faults) as (
            registry_url,
            _,
        ),
        mock_process("addresses", country.registrations, tmp_path / "addresses.log") as (
            addresses_url,
            _,
        ),
    ):
        settings = make_settings(
            database_url,
            keys,
            registry_url=registry_url,
            addresses_url=addresses_url,
            upstream_deadline_seconds=DEADLINE_SECONDS,
            upstream_breaker_failures=1000,
        )
        load_reference(settings, country)
        answers = {"right": 0, "undetermined": 0}
        with running_app(settings, Transports()) as (_, client):
            before = head_seq(client, keys)
            for _ in range(3):
                for who, expected in EXPECTED.items():
                    response = check(client, keys, PEOPLE[who]["iin"])
                    if response.status_code == 503:
                        assert response.json()["code"] == "UNDETERMINED"
                        answers["undetermined"] += 1
                        continue
                    assert response.status_code == 200, response.text
                    decision = response.json()
                    got = (decision["outcome"], (decision["precinct"] or {}).get("id"))
                    assert got == expected, who
                    answers["right"] += 1
            entries = audit_bodies(client, keys, after_seq=before)

    print(f"\nreal mock process with seeded faults: {answers}")
    assert answers["right"] > 0
    assert answers["undetermined"] > 0
    assert len(entries) == sum(answers.values())
    assert {e["payload"]["outcome"] for e in entries} <= {"eligible", "ineligible", "undetermined"}
    assert "Traceback" not in (tmp_path / "registry.log").read_text()


def test_a_connection_dropped_mid_answer_over_tcp_is_an_audited_connection_fault(
    database_url: str, keys: Keys, country: Country, tmp_path: Path
) -> None:
    with (
        mock_process(
            "registry", country.population, tmp_path / "registry.log", "--reset-rate", "1"
        ) as (registry_url, _),
        mock_process("addresses", country.registrations, tmp_path / "addresses.log") as (
            addresses_url,
            _,
        ),
    ):
        settings = make_settings(
            database_url,
            keys,
            registry_url=registry_url,
            addresses_url=addresses_url,
            upstream_deadline_seconds=DEADLINE_SECONDS,
        )
        load_reference(settings, country)
        with running_app(settings, Transports()) as (_, client):
            before = head_seq(client, keys)
            response = check(client, keys)
            entries = audit_bodies(client, keys, after_seq=before)

    assert response.status_code == 503, response.text
    problem = response.json()
    assert problem["code"] == "UNDETERMINED"
    [entry] = entries
    assert entry["payload"]["outcome"] == "undetermined"
    assert entry["payload"]["failure"] == "connection"
    assert "Traceback" not in (tmp_path / "registry.log").read_text()


def test_a_hanging_real_mock_is_undetermined_on_the_deadline_and_still_stops_promptly(
    database_url: str, keys: Keys, country: Country, tmp_path: Path
) -> None:
    with (
        mock_process(
            "registry", country.population, tmp_path / "registry.log", "--timeout-rate", "1"
        ) as (registry_url, registry),
        mock_process("addresses", country.registrations, tmp_path / "addresses.log") as (
            addresses_url,
            _,
        ),
    ):
        settings = make_settings(
            database_url,
            keys,
            registry_url=registry_url,
            addresses_url=addresses_url,
            upstream_deadline_seconds=DEADLINE_SECONDS,
        )
        load_reference(settings, country)
        with running_app(settings, Transports()) as (_, client):
            for _ in range(3):
                started = time.monotonic()
                response = check(client, keys)
                elapsed = time.monotonic() - started
                assert response.status_code == 503, response.text
                assert response.json()["upstream"] == "registry"
                assert DEADLINE_SECONDS <= elapsed < DEADLINE_SECONDS + 0.5
                assert json.loads(response.text)["outcome"] == "undetermined"

        # Hung answers end when their client goes away: they do not hold up the shutdown.
        stopping = time.monotonic()
        registry.send_signal(signal.SIGINT)
        registry.wait(timeout=10)
        assert time.monotonic() - stopping < 5


def test_fault_rates_adding_up_to_more_than_one_are_refused(country: Country) -> None:
    result = CliRunner().invoke(
        voterctl,
        [
            "mock",
            "registry",
            "--data",
            str(country.population),
            "--error-rate",
            "0.6",
            "--timeout-rate",
            "0.6",
        ],
    )

    assert result.exit_code == EXIT_REFUSED
    assert "refusing fault options" in result.output


@pytest.mark.parametrize("flag", ["--error-rate", "--reset-rate"])
def test_a_fault_rate_above_one_is_a_usage_error(country: Country, flag: str) -> None:
    result = CliRunner().invoke(
        voterctl, ["mock", "addresses", "--data", str(country.registrations), flag, "1.5"]
    )

    assert result.exit_code == 2
    assert flag in result.output
