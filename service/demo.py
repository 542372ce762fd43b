"""``voterctl serve --demo``: a whole working system on one machine, under ./var.

Generates (or reuses) a synthetic country and development keys, loads reference data into
SQLite, starts both mock upstreams as separate processes, starts the API, then checks one
sample IIN of every outcome through the running API and prints what it answered, with a
token and curl commands to try more.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn

from service.audit.signing import CheckpointSigner, generate_signing_key
from service.config import Settings
from service.domain.caller import Role
from service.list_records import make_list_records
from service.logs import configure_logging
from service.security.tokens import generate_dev_keypair, mint_token

DEMO_ISSUER = "voter-eligibility-demo"
DEMO_AUDIENCE = "voter-eligibility"
DEMO_KID = "demo"
DEMO_ACCOUNTS = {
    "egov": Role.EGOV,
    "commission": Role.COMMISSION,
    "operator-a": Role.OPERATOR,
    "operator-b": Role.OPERATOR,
    "auditor": Role.AUDITOR,
    "witness": Role.WITNESS,
}
# The organisation each demo account acts for (the token's ``org`` claim; service.organisations).
DEMO_ORGANISATIONS = {
    Role.EGOV: "egov",
    Role.COMMISSION: "pec",
    Role.OPERATOR: "tec",
    Role.AUDITOR: "cec",
    Role.WITNESS: "observers",
}
# The demo's observer: a witness key registered with the log (docs/observers.md).
DEMO_WITNESS = "observers.example.org/demo-witness"
STARTUP_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Expectation:
    outcome: str
    reasons: tuple[str, ...] | None = None  # None: any non-empty set (multiple reasons)
    basis: str | None = None
    next_step: str | None = None


EXPECTED: dict[str, Expectation] = {
    "eligible_permanent": Expectation("eligible", (), "permanent_registration"),
    "eligible_temporary": Expectation("eligible", (), "temporary_registration"),
    "eligible_consular": Expectation("eligible", (), "consular_registration"),
    "eligible_special": Expectation("eligible", (), "permanent_registration"),
    "eligible_no_registration": Expectation(
        "eligible", (), None, next_step="DAY_REGISTRATION_AVAILABLE"
    ),
    "eligible_uncovered_address": Expectation(
        "eligible", (), None, next_step="NO_PRECINCT_FOR_ADDRESS"
    ),
    "birthday_on_voting_day": Expectation("eligible", ()),
    "born_29_february": Expectation("eligible", ()),
    "pretrial_detention": Expectation("eligible", (), "permanent_registration"),
    "under_18": Expectation("ineligible", ("UNDER_18",)),
    "deceased": Expectation("ineligible", ("DECEASED",)),
    "not_citizen": Expectation("ineligible", ("NOT_CITIZEN",)),
    "incapacitated": Expectation("ineligible", ("INCAPACITATED_BY_COURT",)),
    "imprisoned": Expectation("ineligible", ("IMPRISONED_BY_SENTENCE",)),
    "multiple_reasons": Expectation("ineligible", None),
    "not_found": Expectation("ineligible", ("NOT_FOUND",), next_step="APPLY_TO_COMMISSION"),
    # Voters the demo put on a list before voting day (service/list_records.py).
    "special_presence": Expectation("eligible", (), "special_presence"),
    "absentee_certificate": Expectation(
        "eligible", (), "absentee_certificate", next_step="VOTE_WITH_ABSENTEE_CERTIFICATE"
    ),
    "place_of_stay_application": Expectation("eligible", (), "place_of_stay_application"),
    "mission_application": Expectation("eligible", (), "mission_application"),
}


def matches(expectation: Expectation, decision: dict[str, Any]) -> bool:
    reasons = tuple(r["code"] for r in decision["reasons"])
    if decision["outcome"] != expectation.outcome:
        return False
    if expectation.reasons is None:
        if len(reasons) < 2:
            return False
    elif reasons != expectation.reasons:
        return False
    if expectation.basis is not None and decision["basis"] != expectation.basis:
        return False
    steps = [s["code"] for s in decision["next_steps"]]
    return expectation.next_step is None or expectation.next_step in steps


@dataclass(frozen=True)
class DemoKeys:
    jwt_private: str
    jwt_public: str
    audit_signing: str
    hmac: str


def private_directory(path: Path) -> Path:
    """``path`` as a directory only its owner can list or enter (0700)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # made by an earlier demo with the umask's mode
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read (0600), from the moment it exists."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(descriptor, 0o600)  # left by an earlier demo with another mode: before writing
        handle.write(text)


def _read_or_create(path: Path, make: Any) -> str:
    if path.exists():
        return path.read_text("ascii")
    value: str = make()
    write_private(path, value)
    return value


def ensure_keys(directory: Path) -> DemoKeys:
    """Development keys, made once and reused so the demo's audit log stays verifiable."""
    private_directory(directory)
    jwt_private = directory / "jwt-dev.pem"
    if not jwt_private.exists():
        private, public = generate_dev_keypair()
        write_private(jwt_private, private)
        (directory / "jwt-dev.pub.pem").write_text(public, "ascii")
    audit_signing = _read_or_create(directory / "audit-signing.pem", generate_signing_key)
    (directory / "audit-signing.pub.pem").write_text(
        CheckpointSigner(audit_signing).public_key_pem, "ascii"
    )
    hmac = _read_or_create(directory / "audit-hmac.key", lambda: os.urandom(32).hex())
    return DemoKeys(
        jwt_private=jwt_private.read_text("ascii"),
        jwt_public=(directory / "jwt-dev.pub.pem").read_text("ascii"),
        audit_signing=audit_signing,
        hmac=hmac,
    )


def ensure_country(directory: Path, *, persons: int, seed: int) -> tuple[dict[str, str], bool]:
    """Generate the synthetic country unless one with the same size and seed is there."""
    from service.datagen import generate_country

    params_file = directory / "params.json"
    params = {"persons": persons, "seed": seed}
    samples_file = directory / "samples.json"
    if (
        params_file.exists()
        and samples_file.exists()
        and json.loads(params_file.read_text()) == params
    ):
        return json.loads(samples_file.read_text()), False
    print(f"generating a synthetic country of {persons} persons (seed {seed}) ...", flush=True)
    generate_country(out_dir=directory, persons=persons, seed=seed)
    params_file.write_text(json.dumps(params))
    return json.loads(samples_file.read_text()), True


def ensure_witness(var_dir: Path, settings: Settings) -> None:
    """The demo observer's key (``keys/witness.key``), registered with the log once, and the
    log's vkey (``keys/log.vkey``) that observers pin: what the banner's cosign command uses."""
    from service.audit.note import NoteSigner, VerifierKey
    from service.audit.signing import CheckpointVerifier
    from service.audit.witnesses import register_witness, registered_witnesses
    from service.bootstrap import build_audit_log, checkpoint_signer
    from service.db.engine import open_database, read_session, write_session

    keys = private_directory(var_dir / "keys")
    signing_key = settings.audit_signing_key
    assert signing_key is not None
    verifier = CheckpointVerifier(CheckpointSigner(signing_key.get_secret_value()).public_key_pem)
    log_vkey = VerifierKey.of(settings.audit_log_origin, verifier.public_key)
    (keys / "log.vkey").write_text(f"{log_vkey}\n", "ascii")
    skey = _read_or_create(keys / "witness.key", lambda: NoteSigner.generate(DEMO_WITNESS).skey())
    witness = NoteSigner.from_skey(skey.strip()).verifier_key
    database = open_database(settings.database_url)
    try:
        with read_session(database) as session:
            known = {str(key) for key in registered_witnesses(session)}
        if str(witness) not in known:
            audit_log = build_audit_log(settings, checkpoint_signer(settings))
            with write_session(database) as session:
                register_witness(
                    session, audit_log, vkey=str(witness), by="demo", now=dt.datetime.now(dt.UTC)
                )
    finally:
        database.dispose()


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def demo_environment(
    var_dir: Path,
    keys: DemoKeys,
    *,
    registry_url: str,
    addresses_url: str,
    clock: dt.datetime | None,
) -> dict[str, str]:
    fixed = {"VOTER_CLOCK_FIXED": clock.isoformat()} if clock else {}
    return {
        **fixed,
        "VOTER_ENV": "dev",
        "VOTER_DATABASE_URL": f"sqlite:///{(var_dir / 'voter.db').resolve()}",
        "VOTER_REGISTRY_URL": registry_url,
        "VOTER_ADDRESSES_URL": addresses_url,
        "VOTER_JWT_PUBLIC_KEYS": json.dumps({DEMO_KID: keys.jwt_public}),
        "VOTER_JWT_ISSUER": DEMO_ISSUER,
        "VOTER_JWT_AUDIENCE": DEMO_AUDIENCE,
        "VOTER_JWT_PRIVATE_KEY": keys.jwt_private,
        "VOTER_JWT_KID": DEMO_KID,
        "VOTER_AUDIT_HMAC_KEY": keys.hmac,
        "VOTER_AUDIT_SIGNING_KEY": keys.audit_signing,
    }


def write_env_file(path: Path, environment: dict[str, str]) -> None:
    lines = [f"{name}={shlex.quote(value)}" for name, value in environment.items()]
    write_private(path, "\n".join(lines) + "\n")


def load_reference_data(settings: Settings, country: Path, *, force: bool) -> None:
    from service.bootstrap import build_audit_log, checkpoint_signer, import_reference
    from service.db.engine import open_database, read_session
    from service.db.migrations import create_schema
    from service.db.repository import latest_import_id

    database = open_database(settings.database_url)
    try:
        create_schema(database)
        with read_session(database) as session:
            already = latest_import_id(session) > 0
        if already and not force:
            return
        audit_log = build_audit_log(settings, checkpoint_signer(settings))
        now = dt.datetime.now(dt.UTC)
        for name in ("precincts", "elections"):
            path = country / f"{name}.jsonl"
            result = import_reference(
                name, path, database=database, audit_log=audit_log, actor="demo", now=now
            )
            print(f"imported {result.records} {name} (audit seq {result.audit_seq})", flush=True)
    finally:
        database.dispose()


def start_mock(kind: str, data: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "service.cli", "mock", kind, "--data", str(data)]
    return subprocess.Popen([*command, "--port", str(port)])  # noqa: S603 - our own CLI


def wait_until_healthy(url: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url} exited with code {process.returncode} while starting")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy in {STARTUP_TIMEOUT_SECONDS:.0f} s")


def check_samples(
    base_url: str, token: str, election_id: str, samples: dict[str, str]
) -> list[tuple[str, str, dict[str, Any], bool]]:
    results = []
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        for category, iin in samples.items():
            response = client.post(
                "/v1/eligibility/check",
                json={"iin": iin, "election_id": election_id},
                headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
            )
            decision = response.json()
            expectation = EXPECTED.get(category)
            ok = (
                response.status_code == 200
                and expectation is not None
                and matches(expectation, decision)
            )
            results.append((category, iin, decision, ok))
    return results


def _home_precinct(results: list[tuple[str, str, dict[str, Any], bool]]) -> str | None:
    """The precinct the eligible sample with a permanent registration is listed at."""
    permanent = next((d for c, _, d, _ in results if c == "eligible_permanent"), {})
    precinct = (permanent.get("precinct") or {}).get("id")
    return str(precinct) if precinct else None


def _describe(decision: dict[str, Any]) -> str:
    if "outcome" not in decision or "reasons" not in decision:
        return f"error {decision.get('code')}"
    reasons = ",".join(r["code"] for r in decision["reasons"])
    precinct = (decision.get("precinct") or {}).get("id") or "-"
    steps = ",".join(s["code"] for s in decision["next_steps"])
    parts = [decision["outcome"], reasons or "", precinct, decision["basis"] or "", steps]
    return "  ".join(p for p in parts if p)


def print_banner(
    *,
    base_url: str,
    var_dir: Path,
    election_id: str,
    results: list[tuple[str, str, dict[str, Any], bool]],
    designated: str,
    clock: dt.datetime | None,
) -> None:
    tokens = var_dir / "tokens"
    sample = {category: iin for category, iin, _, _ in results}
    home_precinct = _home_precinct(results) or "-"
    cli = "VOTER_SERVER_URL=" + base_url + " .venv/bin/voterctl"
    day_body = json.dumps(
        {
            "iin": sample.get("eligible_no_registration", ""),
            "election_id": election_id,
            "precinct_id": designated,
        }
    )
    clock_line = (
        f"the clock stands at {clock.isoformat()} (VOTER_CLOCK_FIXED; --clock now for real time)"
        if clock
        else "the clock is real time"
    )
    print(
        f"""
==============================================================================
 Voter eligibility service (demo) is up at {base_url}
 {clock_line}
==============================================================================
 Tokens in {tokens}/ (valid 1 hour of service time): egov, commission (a member of
 precinct {home_precinct}'s commission: its token's `precincts` claim names it),
 operator-a, operator-b, auditor, witness. More: set -a; . {var_dir}/demo.env; set +a;
 .venv/bin/voterctl token mint --sub you@example --role egov
 .venv/bin/voterctl token mint --sub member@pec --role commission --precinct {home_precinct}

 Eligibility check:
   curl -s -X POST {base_url}/v1/eligibility/check \\
     -H "Authorization: Bearer $(cat {tokens}/egov.jwt)" \\
     -H 'Content-Type: application/json' -H 'Accept-Language: en' \\
     -d '{{"iin": "{sample.get("eligible_permanent", "")}", "election_id": "{election_id}"}}'

 Service A, registration check by a commission member:
   {cli} precinct-check {sample.get("eligible_permanent", "")} --election {election_id} \\
     --precinct {home_precinct} --token-file {tokens}/commission.jwt

 Service B, day registration of a voter with no registration anywhere:
   curl -s -X POST {base_url}/v1/day-registrations \\
     -H "Authorization: Bearer $(cat {tokens}/egov.jwt)" \\
     -H "Idempotency-Key: demo-$RANDOM$RANDOM" \\
     -H 'Content-Type: application/json' -H 'Accept-Language: en' \\
     -d '{day_body}'

 Manual override, maker-checker (operator-a creates, operator-b approves):
   {cli} override create --iin {sample.get("incapacitated", "")} --election {election_id} \\
     --kind include --reason-code COURT_DECISION --reason-text "capacity restored" \\
     --document "court 2-1/2027" --token-file {tokens}/operator-a.jwt
   {cli} override approve OVERRIDE_ID --token-file {tokens}/operator-b.jwt
 Undoing takes two operators as well (operator-b asks, operator-a approves):
   {cli} override revoke OVERRIDE_ID --reason "appeal upheld" --token-file {tokens}/operator-b.jwt
   {cli} override revoke-approve OVERRIDE_ID --token-file {tokens}/operator-a.jwt

 Finding a voter's records (the IIN is read from a file or stdin, never put in a URL):
   {cli} override find --iin-file - --token-file {tokens}/operator-a.jwt
   {cli} registration find --iin-file - --token-file {tokens}/operator-a.jwt

 Audit:
   curl -s {base_url}/v1/audit/checkpoint -H "Authorization: Bearer $(cat {tokens}/auditor.jwt)"
   .venv/bin/voterctl audit verify --database sqlite:///{var_dir.resolve()}/voter.db \\
     --public-key {var_dir}/keys/audit-signing.pub.pem

 A decision's receipt ({var_dir}/receipt.json, the first sample's) checked in O(log n)
 against a signed checkpoint note (one is signed within a minute of a decision):
   curl -s {base_url}/v1/audit/checkpoint -H "Authorization: Bearer $(cat {tokens}/auditor.jwt)" \\
     > {var_dir}/checkpoint.json
   .venv/bin/voterctl audit verify-receipt {var_dir}/receipt.json \\
     --checkpoint {var_dir}/checkpoint.json --vkey {var_dir}/keys/log.vkey \\
     --server {base_url} --token "$(cat {tokens}/auditor.jwt)"

 An observer cosigning the newest checkpoint (its key is registered; docs/observers.md):
   .venv/bin/voterctl witness cosign --server {base_url} --key {var_dir}/keys/witness.key \\
     --state {var_dir}/witness --log-key {var_dir}/keys/log.vkey \\
     --token "$(cat {tokens}/witness.jwt)"

 One sample IIN per outcome, checked just now through the API ({election_id}):""",
        flush=True,
    )
    for category, iin, decision, ok in results:
        mark = "ok " if ok else "MISMATCH"
        print(f"   {mark} {category:<27} {iin}  {_describe(decision)}", flush=True)
    if not all(ok for *_, ok in results):
        print(" WARNING: some samples did not get the decision their category claims.", flush=True)
    print(" Ctrl-C stops the API and both mocks.\n", flush=True)


def inside_the_window(country: Path) -> dt.datetime:
    """10:00 in Almaty on the demo election's voting day: day registration is open."""
    voting_day = dt.date.fromisoformat(_first_election(country / "elections.jsonl")[1])
    return dt.datetime.combine(voting_day, dt.time(10, 0), tzinfo=ZoneInfo("Asia/Almaty"))


def run_demo(
    *, var_dir: Path, host: str, port: int, persons: int, seed: int, clock: str = "voting-day"
) -> None:
    var_dir.mkdir(parents=True, exist_ok=True)
    configure_logging()
    keys = ensure_keys(var_dir / "keys")
    country = var_dir / "demo-country"
    samples, regenerated = ensure_country(country, persons=persons, seed=seed)
    registry_port, addresses_port = free_port(host), free_port(host)
    if clock == "now":
        instant = None
    elif clock == "voting-day":
        instant = inside_the_window(country)
    else:
        instant = dt.datetime.fromisoformat(clock)
    environment = demo_environment(
        var_dir,
        keys,
        registry_url=f"http://{host}:{registry_port}",
        addresses_url=f"http://{host}:{addresses_port}",
        clock=instant,
    )
    write_env_file(var_dir / "demo.env", environment)
    os.environ.update(environment)
    settings = Settings()
    load_reference_data(settings, country, force=regenerated)
    ensure_witness(var_dir, settings)

    mocks = [
        start_mock("registry", country / "population.jsonl", registry_port),
        start_mock("addresses", country / "registrations.jsonl", addresses_port),
    ]
    try:
        wait_until_healthy(f"{settings.registry_url}/healthz", mocks[0])
        wait_until_healthy(f"{settings.addresses_url}/healthz", mocks[1])
        election_id, voting_day = _first_election(country / "elections.jsonl")
        samples = {
            **samples,
            **make_list_records(
                settings,
                country,
                election_id=election_id,
                voting_day=dt.date.fromisoformat(voting_day),
                samples=samples,
            ),
        }
        _serve_and_announce(settings, var_dir=var_dir, host=host, port=port, samples=samples)
    finally:
        for process in mocks:
            process.send_signal(signal.SIGTERM)
        for process in mocks:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _serve_and_announce(
    settings: Settings, *, var_dir: Path, host: str, port: int, samples: dict[str, str]
) -> None:
    from service.api.app import create_app
    from service.clock import clock_from

    now = clock_from(settings.clock_fixed).now()
    tokens = write_demo_tokens(var_dir / "tokens", settings, now=now)
    election_id, _ = _first_election(var_dir / "demo-country" / "elections.jsonl")
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host=host, port=port, log_config=None, access_log=False
        )
    )
    base_url = f"http://{host}:{port}"

    def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.1)
        egov = (tokens / "egov.jwt").read_text("ascii")
        results = check_samples(base_url, egov, election_id, samples)
        # One decision's receipt, for the banner's receipt check.
        permanent = next((d for c, _, d, _ in results if c == "eligible_permanent"), {})
        if "audit" in permanent:
            (var_dir / "receipt.json").write_text(json.dumps(permanent["audit"]) + "\n", "ascii")
        # The commission member serves the precinct of the sample the banner checks there:
        # known only now, from the decision (SPEC §15: Service A needs the claim).
        home = _home_precinct(results)
        if home is not None:
            write_demo_token(tokens, settings, "commission", now=now, precincts=[home])
        print_banner(
            base_url=base_url,
            var_dir=var_dir,
            election_id=election_id,
            results=results,
            designated=_designated_precinct(base_url, egov),
            clock=settings.clock_fixed,
        )

    threading.Thread(target=announce, name="demo-announce", daemon=True).start()
    server.run()


def write_demo_tokens(
    tokens: Path, settings: Settings, *, now: dt.datetime, precincts: Sequence[str] = ()
) -> Path:
    """One token per demo account, in ``tokens/<account>.jwt``: bearer secrets, so readable
    by their owner only. The commission member serves ``precincts`` (the token's claim)."""
    private_directory(tokens)
    for name in DEMO_ACCOUNTS:
        write_demo_token(tokens, settings, name, now=now, precincts=precincts)
    return tokens


def write_demo_token(
    tokens: Path, settings: Settings, name: str, *, now: dt.datetime, precincts: Sequence[str]
) -> None:
    role = DEMO_ACCOUNTS[name]
    token = mint_token(
        private_key_pem=keys_private(settings),
        kid=DEMO_KID,
        subject=f"demo-{name}",
        roles=[role],
        issuer=DEMO_ISSUER,
        audience=DEMO_AUDIENCE,
        now=now,
        lifetime_seconds=settings.jwt_max_lifetime_seconds,
        precincts=precincts if role is Role.COMMISSION else (),
        organisation=DEMO_ORGANISATIONS[role],
    )
    write_private(tokens / f"{name}.jwt", token)


def keys_private(settings: Settings) -> str:
    if settings.jwt_private_key is None:
        raise RuntimeError("the demo environment has no JWT private key")
    return settings.jwt_private_key.get_secret_value()


def _first_election(path: Path) -> tuple[str, str]:
    """The demo election's id and voting day: the first line of elections.jsonl."""
    with path.open(encoding="utf-8") as handle:
        first = json.loads(handle.readline())
    return str(first["id"]), str(first["voting_day"])


def _designated_precinct(base_url: str, token: str) -> str:
    response = httpx.get(
        f"{base_url}/v1/precincts",
        params={"day_registration": "true", "country": "KAZ", "limit": 1},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    )
    items = response.json().get("items", [])
    return str(items[0]["id"]) if items else "-"
