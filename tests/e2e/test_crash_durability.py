"""Crash durability (issue 6): SIGKILL the real server under load, restart, lose nothing.

A service process (the app that `voterctl serve` runs, built by its uvicorn factory from
VOTER_* variables) answers concurrent eligibility checks from several client threads; the mock
upstreams run as their own processes, started once per module. At a random moment after it
starts answering, the service is killed with SIGKILL and restarted on the same database, and
every decision any client was acknowledged (2xx, or an audited 503 `UNDETERMINED`) in any
round so far must be there with the receipt it was given; the chain must verify, and decision
rows and decision audit entries must match one to one.

The negative control runs the same load and the same checker against a server that
acknowledges before it commits (tests/early_ack_app.py) and shows the checker catches it.

VOTER_CRASH_ROUNDS sets the rounds (default 20 on SQLite; 5 on PostgreSQL, whose commit the
service does not implement); VOTER_CRASH_SEED replays a run: the seed is printed and named in
every failure.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from service.domain.caller import Role
from tests.databases import on_postgres
from tests.durability import Acknowledged, DurabilityReport, check_durability
from tests.support import (
    ELECTION_ID,
    NOT_IN_REGISTRY,
    NOW,
    PEOPLE,
    Country,
    Keys,
    load_reference,
    make_settings,
    token,
    write_country,
)

ROUNDS = max(1, int(os.environ.get("VOTER_CRASH_ROUNDS") or (5 if on_postgres() else 20)))
CONTROL_ROUNDS = 5
CLIENTS = 6
# Killed this long after the server first answers in a round.
KILL_AFTER_SECONDS = (0.0, 1.0)
STARTUP_TIMEOUT_SECONDS = 60.0
REPOSITORY = Path(__file__).resolve().parents[2]
IINS = [person["iin"] for person in PEOPLE.values()] + [NOT_IN_REGISTRY]

VOTERCTL = [sys.executable, "-m", "service.cli"]
SERVICE_FACTORY = "service.api.asgi:app_from_environment"
EARLY_ACK_FACTORY = "tests.early_ack_app:app_from_environment"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_until_listening(url: str, pid: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert _is_running(pid), log.read_text()[-3000:]
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not come up: {log.read_text()[-3000:]}")


@dataclass(frozen=True)
class Upstreams:
    country: Country
    registry_url: str
    addresses_url: str


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstreams]:
    """Both mock upstreams as their own processes, once for every round of every test."""
    country = write_country(tmp_path_factory.mktemp("crash-country"))
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for kind, data in (("registry", country.population), ("addresses", country.registrations)):
            port = _free_port()
            log = country.directory / f"{kind}.log"
            command = [*VOTERCTL, "mock", kind, "--data", str(data)]
            with log.open("wb") as sink:
                processes.append(
                    subprocess.Popen(
                        [*command, "--port", str(port)], stdout=sink, stderr=subprocess.STDOUT
                    )
                )
            urls.append(f"http://127.0.0.1:{port}")
            _wait_until_listening(urls[-1], processes[-1].pid, log)
        yield Upstreams(country, registry_url=urls[0], addresses_url=urls[1])
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


class Server:
    """One service process after another on the same database, each on a fresh port.

    The processes come from tests/server_launcher.py, which imports the service once and
    forks each of them, so that a restart costs a fork instead of seconds of imports.
    """

    def __init__(self, factory: str, *, environment: dict[str, str], log_directory: Path) -> None:
        self._factory = factory
        self._log_directory = log_directory
        self._launcher = subprocess.Popen(
            [sys.executable, "-m", "tests.server_launcher"],
            env=environment,
            cwd=REPOSITORY,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._pid: int | None = None
        self.starts = 0
        self.url = ""

    def _ask(self, command: str) -> str:
        assert self._launcher.stdin is not None
        assert self._launcher.stdout is not None
        self._launcher.stdin.write(command + "\n")
        self._launcher.stdin.flush()
        reply = self._launcher.stdout.readline().strip()
        assert reply, f"the server launcher died answering {command.split()[0]!r}"
        return reply

    def start(self) -> None:
        port = _free_port()
        self.starts += 1
        log = self._log_directory / f"server-{self.starts}.log"
        self._pid = int(self._ask(f"start {self._factory} {port} {log}"))
        self.url = f"http://127.0.0.1:{port}"
        _wait_until_listening(self.url, self._pid, log)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no rollback; the process is gone on return."""
        assert self._pid is not None
        self._ask(f"kill {self._pid}")
        self._pid = None

    def close(self) -> None:
        if self._pid is not None:
            self._ask(f"stop {self._pid}")
            self._pid = None
        assert self._launcher.stdin is not None
        self._launcher.stdin.close()
        self._launcher.wait(timeout=30)


def _environment(database_url: str, keys: Keys, upstreams: Upstreams) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("VOTER_")}
    return {
        **inherited,
        "VOTER_ENV": "dev",
        "VOTER_DATABASE_URL": database_url,
        "VOTER_REGISTRY_URL": upstreams.registry_url,
        "VOTER_ADDRESSES_URL": upstreams.addresses_url,
        "VOTER_JWT_PUBLIC_KEYS": json.dumps({"test": keys.jwt_public}),
        "VOTER_JWT_ISSUER": "voter-tests",
        "VOTER_JWT_AUDIENCE": "voter-eligibility",
        "VOTER_AUDIT_HMAC_KEY": "crash-test-hmac-key-0123456789abcdef",
        "VOTER_AUDIT_SIGNING_KEY": keys.audit_signing,
        "VOTER_CLOCK_FIXED": NOW.isoformat(),
        "VOTER_RATE_LIMIT_PER_MINUTE": "1000000",
        "VOTER_LOG_FORMAT": "json",
    }


@dataclass
class Load:
    """Client threads posting eligibility checks until the kill; they note what was answered."""

    url: str
    tokens: list[str]
    seed: int
    acknowledged: list[Acknowledged] = field(default_factory=list)
    cut_off: int = 0
    unexpected: list[str] = field(default_factory=list)
    answering: threading.Event = field(default_factory=threading.Event)
    _killing: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for number, bearer in enumerate(self.tokens):
            thread = threading.Thread(target=self._post_until_killed, args=(number, bearer))
            thread.start()
            self._threads.append(thread)

    def killing(self) -> None:
        """From now on a failed request is the kill's doing, not the server's."""
        self._killing.set()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=30)

    def _post_until_killed(self, number: int, bearer: str) -> None:
        rng = random.Random(self.seed * 100 + number)
        headers = {"Authorization": f"Bearer {bearer}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30.0) as client:
            while True:
                body = {"iin": rng.choice(IINS), "election_id": ELECTION_ID}
                try:
                    response = client.post("/v1/eligibility/check", json=body)
                except httpx.TransportError as exc:
                    # No answer, so nothing was acknowledged.
                    with self._lock:
                        if self._killing.is_set():
                            self.cut_off += 1
                        else:
                            self.unexpected.append(type(exc).__name__)
                    return
                self._note(response)

    def _note(self, response: httpx.Response) -> None:
        answer = response.json()
        # A decision (2xx), or an upstream fault audited as undetermined (503 UNDETERMINED):
        # either way the client was handed a receipt for an audit entry.
        is_decision = response.is_success or answer.get("code") == "UNDETERMINED"
        with self._lock:
            if is_decision and {"decision_id", "audit"} <= answer.keys():
                self.acknowledged.append(Acknowledged.from_response_body(answer))
            else:
                self.unexpected.append(f"{response.status_code} {answer.get('code')}")
        self.answering.set()


def _tokens(keys: Keys) -> list[str]:
    return [token(keys, Role.EGOV, subject=f"portal-{n}@egov") for n in range(CLIENTS)]


def _seed() -> int:
    seed = int(os.environ.get("VOTER_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\ncrash test seed: VOTER_CRASH_SEED={seed}")
    return seed


def _crash_once(server: Server, *, keys: Keys, rng: random.Random) -> Load:
    """Load the running server, SIGKILL it at a random moment, bring it back."""
    load = Load(server.url, _tokens(keys), seed=rng.randrange(2**32))
    load.start()
    try:
        # The kill lands on a server that is answering: before its first answer it has
        # acknowledged nothing, so there would be nothing to lose.
        assert load.answering.wait(STARTUP_TIMEOUT_SECONDS), "the server answered nothing"
        time.sleep(rng.uniform(*KILL_AFTER_SECONDS))
    finally:
        load.killing()
        server.kill()
        load.join()
    server.start()
    return load


def _prepare(database_url: str, keys: Keys, upstreams: Upstreams) -> dict[str, str]:
    load_reference(make_settings(database_url, keys), upstreams.country)
    return _environment(database_url, keys, upstreams)


def test_every_acknowledged_decision_survives_sigkill_at_random_moments(
    database_url: str, keys: Keys, upstreams: Upstreams, tmp_path: Path
) -> None:
    seed = _seed()
    rng = random.Random(seed)
    server = Server(
        SERVICE_FACTORY,
        environment=_prepare(database_url, keys, upstreams),
        log_directory=tmp_path,
    )
    acknowledged: list[Acknowledged] = []
    cut_off = 0
    started = time.monotonic()
    server.start()
    try:
        for round_number in range(1, ROUNDS + 1):
            load = _crash_once(server, keys=keys, rng=rng)
            assert not load.unexpected, f"seed {seed}, round {round_number}: {load.unexpected}"
            acknowledged += load.acknowledged
            cut_off += load.cut_off
            report = check_durability(
                database_url, acknowledged=acknowledged, checkpoint_public_key=keys.audit_public
            )
            assert report.ok, f"seed {seed}, round {round_number}: {report.describe()}"
    finally:
        server.close()
    elapsed = time.monotonic() - started
    print(
        f"{ROUNDS} SIGKILL rounds in {elapsed:.1f} s: {len(acknowledged)} acknowledged "
        f"decisions all durable, {cut_off} requests cut off by the kills, "
        f"{report.chain.entries_checked} audit entries verified"
    )
    # The test means something only if the kills hit a server that was answering.
    assert len(acknowledged) >= ROUNDS
    assert cut_off >= ROUNDS


def test_negative_control_checker_catches_acknowledge_before_commit(
    database_url: str, keys: Keys, upstreams: Upstreams, tmp_path: Path
) -> None:
    seed = _seed()
    rng = random.Random(seed)
    server = Server(
        EARLY_ACK_FACTORY,
        environment=_prepare(database_url, keys, upstreams),
        log_directory=tmp_path,
    )
    acknowledged: list[Acknowledged] = []
    reports: list[DurabilityReport] = []
    server.start()
    try:
        for _ in range(CONTROL_ROUNDS):
            load = _crash_once(server, keys=keys, rng=rng)
            acknowledged += load.acknowledged
            reports.append(
                check_durability(
                    database_url,
                    acknowledged=acknowledged,
                    checkpoint_public_key=keys.audit_public,
                )
            )
            if reports[-1].lost:
                break
    finally:
        server.close()
    caught = [report for report in reports if report.lost]
    print(f"negative control after {len(reports)} rounds: {reports[-1].describe()}")
    assert caught, f"seed {seed}: the checker missed acknowledge-before-commit: {reports}"
    assert not caught[0].ok
    # What was lost was acknowledged and is simply gone, not half-written: the chain and the
    # one-to-one match still hold, so it is the acknowledgement check that catches the bug.
    assert caught[0].chain.ok
