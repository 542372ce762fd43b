"""``voterctl``: the service's one command line (SPEC §13)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.console import EXIT_REFUSED, fail, load_settings
from service.operator import register as register_operator_commands
from service.roll.command import register as register_roll_commands

if TYPE_CHECKING:
    from service.mocks.faults import FaultProfile
    from service.usecases.reference_import import ImportPlan

app = typer.Typer(
    name="voterctl",
    help="Voter eligibility service: API server, mock upstreams, data, tokens, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
mock_app = typer.Typer(help="Run a mock upstream as its own HTTP service.", no_args_is_help=True)
data_app = typer.Typer(help="Synthetic data for development and tests.", no_args_is_help=True)
import_app = typer.Typer(
    help="Load reference data into the service database.", no_args_is_help=True
)
token_app = typer.Typer(help="Development tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="Read and verify the audit log.", no_args_is_help=True)
app.add_typer(mock_app, name="mock")
app.add_typer(data_app, name="data")
app.add_typer(import_app, name="import")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
witness_app = typer.Typer(
    help="Witnesses: observers' keys, and cosigning the log's checkpoints (SPEC §17).",
    no_args_is_help=True,
)
app.add_typer(witness_app, name="witness")
register_operator_commands(app)
register_roll_commands(app)

EXIT_TAMPERED = 3
EXIT_UNSIGNED = 6


Port = Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")]
Host = Annotated[str, typer.Option(help="Address to listen on.")]
DatabaseUrl = Annotated[str | None, typer.Option(help="Database URL (default VOTER_DATABASE_URL).")]


# --- serve -------------------------------------------------------------------------------


@app.command()
def serve(
    demo: Annotated[
        bool, typer.Option("--demo", help="Generate data, start both mocks, print samples.")
    ] = False,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    var_dir: Annotated[Path, typer.Option(help="Demo working directory.")] = Path("var"),
    persons: Annotated[int, typer.Option(min=100, help="Demo population size.")] = 5000,
    seed: Annotated[int, typer.Option(help="Demo data seed.")] = 2026,
    clock: Annotated[
        str,
        typer.Option(
            help="Demo clock: 'voting-day' (10:00 Almaty, inside the day-registration "
            "window), 'now', or an ISO 8601 instant."
        ),
    ] = "voting-day",
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (they share one audit chain).")
    ] = 1,
) -> None:
    """Run the API. Production reads VOTER_* variables; --demo sets everything up under ./var."""
    import uvicorn

    from service.logs import configure_logging

    if demo:
        from service.demo import run_demo

        run_demo(var_dir=var_dir, host=host, port=port, persons=persons, seed=seed, clock=clock)
        return
    settings = load_settings()
    configure_logging(
        json_output=None if settings.log_format == "auto" else settings.log_format == "json"
    )
    from service.bootstrap import checkpoint_signer

    try:
        checkpoint_signer(settings)  # refuse a missing or bad key before forking workers
    except ValueError as exc:
        raise fail(str(exc)) from None
    if not settings.is_production:
        from service.db.migrations import upgrade

        upgrade(settings.database_url)
    uvicorn.run(
        "service.api.asgi:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )


# --- mocks -------------------------------------------------------------------------------


def _run_mock(kind: str, data: Path, host: str, port: int, faults: FaultProfile) -> None:
    from service.datafiles import DataFileError
    from service.logs import configure_logging
    from service.mocks import serve_mock
    from service.mocks.faults import inject_faults

    configure_logging()
    try:
        if kind == "registry":
            from service.mocks.registry import create_registry_app

            mock = create_registry_app(data)
        else:
            from service.mocks.addresses import create_addresses_app

            mock = create_addresses_app(data)
    except DataFileError as exc:
        raise fail(f"refusing data file: {exc}") from None
    except OSError as exc:
        raise fail(f"cannot read {data}: {exc.strerror}") from None
    serve_mock(inject_faults(mock, faults), host=host, port=port)


DataFile = Annotated[Path, typer.Option("--data", help="JSON Lines file (SPEC §10).")]
_FAULTS = "Fault injection (every path but /healthz)"
LatencyMs = Annotated[
    int, typer.Option(min=0, help="Delay before every answer.", rich_help_panel=_FAULTS)
]
ErrorRate = Annotated[
    float,
    typer.Option(min=0, max=1, help="Share answered 500/503 problem.", rich_help_panel=_FAULTS),
]
TimeoutRate = Annotated[
    float,
    typer.Option(
        min=0, max=1, help="Share never answered (hang until dropped).", rich_help_panel=_FAULTS
    ),
]
MalformedRate = Annotated[
    float,
    typer.Option(
        min=0,
        max=1,
        help="Share answered 200 with a cut or misshaped body.",
        rich_help_panel=_FAULTS,
    ),
]
ResetRate = Annotated[
    float,
    typer.Option(
        min=0, max=1, help="Share whose connection drops mid-answer.", rich_help_panel=_FAULTS
    ),
]
FaultSeed = Annotated[
    int, typer.Option(help="Same seed, same faults in request order.", rich_help_panel=_FAULTS)
]


def _fault_profile(
    *, latency_ms: int, error: float, timeout: float, malformed: float, reset: float, seed: int
) -> FaultProfile:
    from service.mocks.faults import FaultProfile

    try:
        return FaultProfile(
            latency_ms=latency_ms,
            error_rate=error,
            timeout_rate=timeout,
            malformed_rate=malformed,
            reset_rate=reset,
            seed=seed,
        )
    except ValueError as exc:
        raise fail(f"refusing fault options: {exc}") from None


@mock_app.command("registry")
def mock_registry(
    data: DataFile,
    port: Port = 8101,
    host: Host = "127.0.0.1",
    latency_ms: LatencyMs = 0,
    error_rate: ErrorRate = 0.0,
    timeout_rate: TimeoutRate = 0.0,
    malformed_rate: MalformedRate = 0.0,
    reset_rate: ResetRate = 0.0,
    fault_seed: FaultSeed = 0,
) -> None:
    """The population registry: POST /persons/lookup."""
    faults = _fault_profile(
        latency_ms=latency_ms,
        error=error_rate,
        timeout=timeout_rate,
        malformed=malformed_rate,
        reset=reset_rate,
        seed=fault_seed,
    )
    _run_mock("registry", data, host, port, faults)


@mock_app.command("addresses")
def mock_addresses(
    data: DataFile,
    port: Port = 8102,
    host: Host = "127.0.0.1",
    latency_ms: LatencyMs = 0,
    error_rate: ErrorRate = 0.0,
    timeout_rate: TimeoutRate = 0.0,
    malformed_rate: MalformedRate = 0.0,
    reset_rate: ResetRate = 0.0,
    fault_seed: FaultSeed = 0,
) -> None:
    """The address service: POST /registrations/lookup, GET /addresses/{rca}."""
    faults = _fault_profile(
        latency_ms=latency_ms,
        error=error_rate,
        timeout=timeout_rate,
        malformed=malformed_rate,
        reset=reset_rate,
        seed=fault_seed,
    )
    _run_mock("addresses", data, host, port, faults)


# --- data --------------------------------------------------------------------------------


@data_app.command("generate")
def data_generate(
    persons: Annotated[int, typer.Option(min=1, help="How many people.")],
    out: Annotated[Path, typer.Option(help="Directory to write the four files into.")],
    seed: Annotated[int, typer.Option(help="Same seed, same files.")] = 1,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes making people (default: one per CPU); same files."),
    ] = None,
) -> None:
    """Write a synthetic country: population, registrations, precincts, elections.

    Then print how its shape compares with the published figures scaled to --persons; from
    1,000,000 persons on, a figure more than 10% off makes the command exit 1 (files kept).
    """
    import time

    from service.datagen import generate_country
    from service.datagen.shape import compare, failed, table

    started = time.perf_counter()
    summary = generate_country(out_dir=out, persons=persons, seed=seed, workers=workers)
    elapsed = time.perf_counter() - started
    typer.echo(
        f"wrote {summary.persons} persons, {summary.registrations} registrations, "
        f"{sum(summary.precincts.values())} precincts, {summary.elections} elections "
        f"to {out} in {elapsed:.1f} s"
    )
    for category, count in sorted(summary.categories.items()):
        typer.echo(f"  {category:<28} {count}")
    rows = compare(persons, summary.figures)
    typer.echo("")
    for line in table(persons, rows):
        typer.echo(line)
    if failed(persons, rows):
        raise typer.Exit(1)


# --- import ------------------------------------------------------------------------------


def _import(kind: str, path: Path, *, dry_run: bool, by: str | None) -> None:
    from service.bootstrap import build_audit_log, checkpoint_signer, import_reference
    from service.clock import clock_from
    from service.datafiles import DataFileError
    from service.db.engine import open_database
    from service.db.migrations import create_schema
    from service.usecases.reference_import import (
        BoundaryConflicts,
        ImportRefused,
        LiveRecordsBlock,
    )

    settings = load_settings()
    try:
        audit_log = build_audit_log(settings, checkpoint_signer(settings))
    except ValueError as exc:
        raise fail(str(exc)) from None
    database = open_database(settings.database_url)
    create_schema(database)
    try:
        result = import_reference(
            kind,
            path,
            database=database,
            audit_log=audit_log,
            actor=by or _operating_system_user(),
            now=clock_from(settings.clock_fixed).now(),
            dry_run=dry_run,
        )
    except BoundaryConflicts as exc:
        typer.echo(f"refused: {len(exc.conflicts)} boundary conflicts", err=True)
        for c in exc.conflicts:
            where = f"building {c.building}" if c.building else f"{c.kato} {c.street}"
            typer.echo(
                f"  {c.kind.value}: {c.precinct_ids[0]} and {c.precinct_ids[1]}: {where}", err=True
            )
        raise typer.Exit(EXIT_REFUSED) from None
    except LiveRecordsBlock as exc:
        for line in _plan_lines(exc.plan):
            typer.echo(line)
        typer.echo(f"refused: {exc}; cancel or revoke them first:", err=True)
        for blocker in exc.plan.blockers:
            record = blocker.record
            where = f" at precinct {record.precinct_id}" if record.precinct_id else ""
            typer.echo(
                f"  {record.kind.value} {record.id} (election {record.election_id}{where}): "
                f"{blocker.reason.value}",
                err=True,
            )
        raise typer.Exit(EXIT_REFUSED) from None
    except (DataFileError, ImportRefused) as exc:
        raise fail(f"refused: {exc}") from None
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    finally:
        database.dispose()
    for line in _plan_lines(result.plan):
        typer.echo(line)
    if result.audit_seq is None:
        typer.echo(f"dry run: nothing changed; version {result.version} would be accepted")
        return
    typer.echo(
        f"imported {result.records} {result.kind} as version {result.version} "
        f"(sha256 {result.sha256[:16]}...), audit seq {result.audit_seq}"
    )


def _plan_lines(plan: ImportPlan) -> list[str]:
    """The diff of a planned version against the one in force, one line per kind of change."""
    lines = [
        f"{plan.kind}: version {plan.current_version} -> {plan.version}, "
        f"{plan.records} records, sha256 {plan.sha256[:16]}..."
    ]
    for name, value in vars(plan.changes).items():
        if isinstance(value, tuple):
            shown = ", ".join(value[:20]) + (
                f", ... ({len(value)} in all)" if len(value) > 20 else ""
            )
            lines.append(
                f"  {name.replace('_', ' ')}: {len(value)}" + (f": {shown}" if value else "")
            )
        else:
            lines.append(f"  {name.replace('_', ' ')}: {value}")
    return lines


def _operating_system_user() -> str:
    import getpass

    try:
        return f"voterctl:{getpass.getuser()}"
    except (KeyError, OSError):
        return "voterctl"


ImportFile = Annotated[Path, typer.Argument(help="JSON Lines file (SPEC §10).")]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Print what the file would change and what would block it; change nothing.",
    ),
]
By = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Who imports, recorded with the version (default: voterctl:<login name>).",
    ),
]


@import_app.command("precincts")
def import_precincts_command(file: ImportFile, dry_run: DryRun = False, by: By = None) -> None:
    """Add a boundary-set version: the whole published set, refused (listing every reason)
    if it is empty, if two precincts claim one address, or if it removes a precinct a live
    override or day registration points to (or stops day registration where one is)."""
    _import("precincts", file, dry_run=dry_run, by=by)


@import_app.command("elections")
def import_elections_command(file: ImportFile, dry_run: DryRun = False, by: By = None) -> None:
    """Add an election-set version: the whole published set, refused if it is empty or
    removes an election that a live override or day registration belongs to."""
    _import("elections", file, dry_run=dry_run, by=by)


# --- database ----------------------------------------------------------------------------

db_app = typer.Typer(help="The service database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    database: DatabaseUrl = None,
    app_role: Annotated[
        str | None,
        typer.Option(
            envvar="VOTER_DATABASE_APP_ROLE",
            help="PostgreSQL role the service runs as: granted SELECT and INSERT only on the "
            "audit tables.",
        ),
    ] = None,
) -> None:
    """Apply every pending migration (run as the role that owns the schema)."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.db.migrations import head_revision, upgrade

    url = database or load_settings().database_url
    try:
        upgrade(url, app_role=app_role)
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise fail(f"migration failed: {type(exc).__name__}: {cause}") from None
    typer.echo(f"database schema at {head_revision()}")


# --- tokens ------------------------------------------------------------------------------


@token_app.command("mint")
def token_mint(
    sub: Annotated[str, typer.Option(help="Subject: the account the token stands for.")],
    role: Annotated[list[str], typer.Option(help="egov, commission, operator or auditor.")],
    lifetime: Annotated[int, typer.Option(min=60, help="Seconds until expiry.")] = 900,
    precinct: Annotated[
        list[str] | None,
        typer.Option(
            help="A precinct the commission member serves (repeatable): the `precincts` "
            "claim, without which Service A refuses the token."
        ),
    ] = None,
    org: Annotated[
        str | None,
        typer.Option(
            help="The organisation the account acts for (claim `org`, e.g. cec, tec, pec, "
            "egov): what a citizen's access log shows instead of the account."
        ),
    ] = None,
) -> None:
    """Sign a development token with VOTER_JWT_PRIVATE_KEY (refused in production)."""
    from service.clock import clock_from
    from service.domain.caller import Role
    from service.security.tokens import mint_token

    settings = load_settings()
    if settings.is_production:
        raise fail("token minting is development only (VOTER_ENV=prod)")
    if settings.jwt_private_key is None:
        raise fail("VOTER_JWT_PRIVATE_KEY is not set")
    try:
        roles = [Role(r) for r in role]
    except ValueError:
        raise fail("unknown role; use egov, commission, operator or auditor") from None
    if lifetime > settings.jwt_max_lifetime_seconds:
        raise fail(
            f"lifetime above VOTER_JWT_MAX_LIFETIME_SECONDS ({settings.jwt_max_lifetime_seconds})"
        )
    try:
        minted = mint_token(
            private_key_pem=settings.jwt_private_key.get_secret_value(),
            kid=settings.jwt_kid,
            subject=sub,
            roles=roles,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            # The service's own clock: under VOTER_CLOCK_FIXED a real-time token is not yet valid.
            now=clock_from(settings.clock_fixed).now(),
            lifetime_seconds=lifetime,
            precincts=precinct or (),
            organisation=org,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    typer.echo(minted)


# --- audit -------------------------------------------------------------------------------


def _public_key_pem(public_key: Path | None) -> str:
    """The trusted checkpoint key: the given file, else derived from the service's own key.

    An observer with an export and the public key needs no other setting, so the service's
    configuration is only read when the key is not given.
    """
    from service.audit.signing import CheckpointSigner

    if public_key is not None:
        try:
            return public_key.read_text("ascii")
        except OSError as exc:
            raise fail(f"cannot read {public_key}: {exc.strerror}") from None
    settings = load_settings()
    if settings.audit_signing_key is None:
        raise fail("give --public-key or set VOTER_AUDIT_SIGNING_KEY")
    return CheckpointSigner(settings.audit_signing_key.get_secret_value()).public_key_pem


PublicKey = Annotated[
    Path | None, typer.Option(help="Ed25519 public key (PEM) trusted for checkpoints.")
]
Origin = Annotated[
    str | None,
    typer.Option(
        envvar="VOTER_AUDIT_LOG_ORIGIN",
        help="The log's origin in its checkpoint notes [default: voters.election.kz/audit/v1].",
    ),
]


def _origin(origin: str | None) -> str:
    """The origin given, else the default: an observer needs no other setting."""
    from service.audit.note import DEFAULT_ORIGIN

    return origin if origin is not None else DEFAULT_ORIGIN


@audit_app.command("verify")
def audit_verify(
    database: Annotated[
        str | None, typer.Option(help="Database URL (default VOTER_DATABASE_URL).")
    ] = None,
    file: Annotated[Path | None, typer.Option(help="An export file instead of a database.")] = None,
    public_key: PublicKey = None,
    origin: Origin = None,
    require_signed: Annotated[
        bool,
        typer.Option(
            "--require-signed",
            help=f"Exit {EXIT_UNSIGNED} if any entry is covered by no signed checkpoint.",
        ),
    ] = False,
) -> None:
    """Re-walk the hash chain and the Merkle tree against signed checkpoints; report the
    unsigned tail.

    Each checkpoint's tlog-checkpoint note must name the root of the entries up to its size;
    in the database, the stored tree must give the same roots and prove each checkpoint
    consistent with the one before. Exit 0 when all of it verifies; 3 naming the first bad
    seq (or checkpoint size); 6 with
    --require-signed when entries after the newest checkpoint are signed by no one (they are
    only as trustworthy as whoever holds the database).
    """
    from service.audit.signing import CheckpointVerifier
    from service.audit.verify import verify_database, verify_export
    from service.db.engine import open_database

    try:
        verifier = CheckpointVerifier(_public_key_pem(public_key))
    except ValueError as exc:
        raise fail(str(exc)) from None
    log_origin = _origin(origin)
    if file is not None:
        report = verify_export(file, verifier=verifier, origin=log_origin)
    else:
        db = open_database(database or load_settings().database_url)
        try:
            report = verify_database(db, verifier=verifier, origin=log_origin)
        finally:
            db.dispose()
    if report.ok:
        typer.echo(
            f"ok: {report.entries_checked} entries, "
            f"{report.checkpoints_checked} checkpoints verified"
        )
        unsigned = report.uncovered_seqs
        if unsigned is None:
            typer.echo(f"signed: all {report.entries_checked} entries covered by a checkpoint")
            return
        first, last = unsigned
        typer.echo(
            f"UNSIGNED: {report.uncovered} entries (seq {first}-{last}) "
            "covered by no signed checkpoint",
            err=require_signed,
        )
        if require_signed:
            raise typer.Exit(EXIT_UNSIGNED)
        return
    typer.echo(
        f"TAMPERED: first bad seq {report.first_bad_seq}: {report.problem}: {report.detail}",
        err=True,
    )
    raise typer.Exit(EXIT_TAMPERED)


@audit_app.command("vkey")
def audit_vkey(public_key: PublicKey = None, origin: Origin = None) -> None:
    """Print the log's note verifier key (<origin>+<key id>+<base64 key>) for observers.

    It is what `audit verify-receipt --vkey` and any C2SP signed-note verifier take to check
    the log's checkpoints.
    """
    typer.echo(_vkey(public_key, origin))


def _vkey(public_key: Path | None, origin: str | None) -> str:
    from service.audit.note import VerifierKey
    from service.audit.signing import CheckpointVerifier

    try:
        verifier = CheckpointVerifier(_public_key_pem(public_key))
        return str(VerifierKey.of(_origin(origin), verifier.public_key))
    except ValueError as exc:
        raise fail(str(exc)) from None


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read the {what} {path}: {exc}") from None


def _fetch_proof(server: str, seq: int, tree_size: int, bearer: str | None) -> str:
    """The inclusion proof as the server serves it; the statement why not, as ReceiptRejected."""
    import httpx

    from service.audit.receipt import ReceiptRejected

    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    url = server.rstrip("/") + "/v1/audit/proofs/inclusion"
    try:
        response = httpx.get(
            url, params={"seq": seq, "tree_size": tree_size}, headers=headers, timeout=30
        )
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach {url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        try:
            code = response.json().get("code", "")
        except ValueError:
            code = ""
        raise ReceiptRejected(
            f"proof: the server cannot prove seq {seq} at tree size {tree_size} "
            f"({response.status_code} {code}): a log shorter than its own signed checkpoint "
            "was rolled back"
            if code == "TREE_SIZE_UNKNOWN"
            else f"proof: the server answered {response.status_code} {code}".rstrip()
        )
    return response.text


@audit_app.command("verify-receipt")
def audit_verify_receipt(
    receipt: Annotated[
        Path, typer.Argument(help="The receipt: {seq, entry_hash}, or a decision's response.")
    ],
    checkpoint: Annotated[
        Path,
        typer.Option(help="A signed checkpoint note, or GET /v1/audit/checkpoint's answer."),
    ],
    proof: Annotated[
        Path | None, typer.Option(help="GET /v1/audit/proofs/inclusion's answer (offline).")
    ] = None,
    server: Annotated[
        str | None, typer.Option(help="Fetch the proof from this service instead.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="VOTER_TOKEN", help="Bearer token for --server (auditor role)."),
    ] = None,
    vkey: Annotated[
        str | None,
        typer.Option(help="The log's vkey, or a file holding it (default: from the service key)."),
    ] = None,
) -> None:
    """Check one decision's receipt against a signed checkpoint, in O(log n).

    The note must be signed by the vkey for the log its name gives; the proof's entry must
    hash (SHA-256 of prev_hash and body) to the receipt's entry_hash and claim its seq; its
    audit path must lead to the note's root. Exit 0 with one "verified" line; 1 naming what
    failed.
    """
    from service.audit.note import MalformedNote, VerifierKey
    from service.audit.receipt import (
        ReceiptRejected,
        open_log_checkpoint,
        parse_checkpoint_note,
        parse_proof,
        parse_receipt,
        verify_receipt,
    )

    if (proof is None) == (server is None):
        raise fail("give one of --proof FILE or --server URL")
    if vkey is None:
        audit_vkey_text = _vkey(None, None)
    elif Path(vkey).is_file():
        audit_vkey_text = _read_text(Path(vkey), "vkey").strip()
    else:
        audit_vkey_text = vkey.strip()
    try:
        key = VerifierKey.parse(audit_vkey_text)
    except MalformedNote as exc:
        raise fail(f"not a vkey: {exc}") from None
    try:
        claim = parse_receipt(_read_text(receipt, "receipt"))
        note = parse_checkpoint_note(_read_text(checkpoint, "checkpoint"))
        if proof is not None:
            served = _read_text(proof, "proof")
        else:
            assert server is not None
            size = open_log_checkpoint(note, key).size
            served = _fetch_proof(server, claim.seq, size, token)
        statement = verify_receipt(claim, note=note, vkey=key, proof=parse_proof(served))
    except ReceiptRejected as exc:
        typer.echo(f"NOT VERIFIED: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(statement)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option(help="File to write (JSON Lines).")],
    database: Annotated[
        str | None, typer.Option(help="Database URL (default VOTER_DATABASE_URL).")
    ] = None,
    public_key: PublicKey = None,
) -> None:
    """Export entries and signed checkpoints for observers to verify offline.

    With --public-key (and --database) it needs neither the signing key nor other settings.
    """
    from service.audit.export import export_log
    from service.db.engine import open_database

    try:
        public_key_pem = _public_key_pem(public_key)
    except ValueError as exc:
        raise fail(str(exc)) from None
    db = open_database(database or load_settings().database_url)
    try:
        count = export_log(db, out, public_key_pem=public_key_pem)
    finally:
        db.dispose()
    typer.echo(f"exported {count} entries to {out}")


@audit_app.command("tail")
def audit_tail(
    count: Annotated[int, typer.Option("-n", min=1, max=10_000, help="How many entries.")] = 10,
    database: Annotated[
        str | None, typer.Option(help="Database URL (default VOTER_DATABASE_URL).")
    ] = None,
) -> None:
    """Print the last entries' bodies (pseudonymous: no IIN is ever stored)."""
    from service.audit.log import AuditReader
    from service.db.engine import open_database, read_session

    db = open_database(database or load_settings().database_url)
    reader = AuditReader()
    try:
        with read_session(db) as session:
            head = reader.chain_length(session)
            for entry in reader.entries(session, after_seq=max(0, head - count), limit=count):
                typer.echo(f"{entry.seq}\t{entry.entry_hash[:16]}\t{entry.body}")
    finally:
        db.dispose()


# --- witnesses ---------------------------------------------------------------------------

EXIT_FORK = 3  # as EXIT_TAMPERED: the log showed a fork or a rollback


@witness_app.command("keygen")
def witness_keygen(
    name: Annotated[
        str, typer.Option(help="The witness's key name, e.g. observers.example.org/witness-1.")
    ],
    out: Annotated[Path, typer.Option(help="Where to write the private key (mode 0600).")],
) -> None:
    """Make a witness key: the private key goes to --out, the vkey to register is printed."""
    from service.audit.note import NoteSigner

    if out.exists():
        raise fail(f"{out} exists: a witness key is never overwritten")
    try:
        signer = NoteSigner.generate(name)
    except ValueError as exc:
        raise fail(str(exc)) from None
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(signer.skey() + "\n")
    typer.echo(str(signer.verifier_key))


@witness_app.command("register")
def witness_register(
    vkey: Annotated[str, typer.Argument(help="The observer's vkey (voterctl witness keygen).")],
    by: Annotated[str | None, typer.Option(help="Who registers it (default: OS user).")] = None,
) -> None:
    """Register an observer's key with the service (audited); its cosignatures then count."""
    from service.audit.note import MalformedNote
    from service.audit.witnesses import WitnessAlreadyRegistered, register_witness
    from service.bootstrap import build_audit_log, checkpoint_signer
    from service.clock import clock_from
    from service.db.engine import open_database, write_session
    from service.db.migrations import create_schema

    settings = load_settings()
    audit_log = build_audit_log(settings, checkpoint_signer(settings))
    database = open_database(settings.database_url)
    create_schema(database)
    try:
        with write_session(database) as session:
            key = register_witness(
                session,
                audit_log,
                vkey=vkey,
                by=by or _operating_system_user(),
                now=clock_from(settings.clock_fixed).now(),
            )
    except (MalformedNote, WitnessAlreadyRegistered) as exc:
        raise fail(str(exc)) from None
    finally:
        database.dispose()
    typer.echo(f"registered witness {key.name} (key id {key.key_id:08x})")


@witness_app.command("list")
def witness_list() -> None:
    """The registered witnesses' vkeys."""
    from service.audit.witnesses import registered_witnesses
    from service.db.engine import open_database, read_session

    database = open_database(load_settings().database_url)
    try:
        with read_session(database) as session:
            for key in registered_witnesses(session):
                typer.echo(str(key))
    finally:
        database.dispose()


@witness_app.command("cosign")
def witness_cosign(
    server: Annotated[str, typer.Option(help="The service's base URL.")],
    key: Annotated[Path, typer.Option(help="The witness's private key file (keygen's).")],
    state: Annotated[Path, typer.Option(help="The witness's state directory.")],
    log_key: Annotated[
        str | None,
        typer.Option(help="The log's vkey, or a file holding it: needed on the first run."),
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="VOTER_TOKEN", help="Bearer token (witness role).")
    ] = None,
) -> None:
    """Cosign the newest checkpoint if it extends the last one this witness cosigned.

    Exit 0 having cosigned; 3 on a fork or a rollback (both heads written to a report in the
    state directory, nothing cosigned); 2 when nothing could be checked.
    """
    import httpx

    from service.audit.note import NoteSigner
    from service.operator.cosigner import CosignerError, Refused, cosign_once, pinned_log_key

    try:
        signer = NoteSigner.from_skey(_read_text(key, "witness key").strip())
    except ValueError as exc:
        raise fail(f"not a witness key: {exc}") from None
    given = log_key
    if given is not None and Path(given).is_file():
        given = _read_text(Path(given), "log key")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        log_vkey = pinned_log_key(state, given)
        with httpx.Client(base_url=server, headers=headers, timeout=30) as client:
            outcome = cosign_once(client, signer=signer, state=state, log_key=log_vkey)
    except CosignerError as exc:
        raise fail(str(exc)) from None
    if isinstance(outcome, Refused):
        typer.echo(f"{outcome.kind.upper()}: {outcome.reason}; report: {outcome.report}", err=True)
        raise typer.Exit(EXIT_FORK)
    witnessed = "witnessed" if outcome.witnessed else "not yet witnessed"
    typer.echo(
        f"cosigned size {outcome.size} ({outcome.verdict.value}); "
        f"cosigned by {', '.join(outcome.cosigned_by)}: {witnessed}"
    )


def main() -> None:
    app(prog_name="voterctl")


if __name__ == "__main__":
    main()
