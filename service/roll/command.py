"""``voterctl roll compile``: the command line of the compile (registered by service.cli)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from service.console import EXIT_REFUSED, fail, load_settings
from service.roll.model import ListFormat

EXIT_UNAVAILABLE = 5

roll_app = typer.Typer(help="Voter lists of a whole election.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(roll_app, name="roll")


@roll_app.command("compile")
def roll_compile(
    election: Annotated[str, typer.Option(help="The election whose lists to compile.")],
    out: Annotated[Path, typer.Option(help="Directory for the lists and the summary.")],
    list_format: Annotated[
        ListFormat, typer.Option("--format", help="One file per precinct: csv or parquet.")
    ] = ListFormat.CSV,
    workers: Annotated[
        int, typer.Option(min=0, max=64, help="Deciding processes (0: in this one).")
    ] = 2,
    chunk_size: Annotated[
        int,
        typer.Option(min=1, max=100_000, help="Persons per committed chunk (fixed per run)."),
    ] = 20_000,
    batch_size: Annotated[
        int, typer.Option(min=1, max=1000, help="IINs per upstream batch call.")
    ] = 1000,
    deadline: Annotated[
        float, typer.Option(min=0.1, max=300, help="Seconds allowed for one batch call.")
    ] = 30.0,
    attempts: Annotated[
        int, typer.Option(min=1, max=10, help="Attempts per batch call before stopping.")
    ] = 4,
    database: Annotated[
        str | None, typer.Option(help="Database URL (default VOTER_DATABASE_URL).")
    ] = None,
) -> None:
    """Decide every person of the registry and write one list per precinct plus a summary.

    One audit entry per decision. Interrupted (Ctrl-C, a crash, an upstream outage)? Run the
    same command again: it resumes after the last committed chunk.
    """
    from service.bootstrap import checkpoint_signer
    from service.clock import clock_from
    from service.db.engine import open_database
    from service.db.migrations import create_schema
    from service.roll.chain_writer import RollAuditLog
    from service.roll.compile import RollCompiler, RollOptions, RollRefused, RollStopped
    from service.roll.parts import PartFileMismatch
    from service.roll.progress import ConsoleProgress

    settings = load_settings()
    try:
        audit_log = RollAuditLog(
            checkpoint_signer(settings),
            checkpoint_every=settings.audit_checkpoint_every,
            checkpoint_max_age=timedelta(seconds=settings.audit_checkpoint_max_age_seconds),
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    db = open_database(database or settings.database_url)
    started = time.monotonic()
    try:
        create_schema(db)
        report = RollCompiler(
            RollOptions(
                election_id=election,
                out_dir=out,
                registry_url=settings.registry_url,
                addresses_url=settings.addresses_url,
                list_format=list_format,
                chunk_size=chunk_size,
                workers=workers,
                batch_size=batch_size,
                deadline_seconds=deadline,
                attempts=attempts,
            ),
            database=db,
            audit_log=audit_log,
            hmac_key=settings.audit_hmac_key.get_secret_value().encode(),
            clock=clock_from(settings.clock_fixed),
            progress=ConsoleProgress(),
        ).run()
    except RollRefused as exc:
        raise fail(f"refused: {exc}") from None
    except RollStopped as exc:
        raise fail(f"stopped: {exc}", code=EXIT_UNAVAILABLE) from None
    except PartFileMismatch as exc:
        raise fail(f"refused: {exc}; the output directory was changed", code=EXIT_REFUSED) from None
    finally:
        db.dispose()
    elapsed = time.monotonic() - started
    summary = report.summary
    outcomes = summary["outcomes"]
    audit = summary["audit"]
    typer.echo(
        f"run {report.run_id}{' (resumed)' if report.resumed else ''}: "
        f"{report.persons} persons decided in {report.chunks} chunks "
        f"({report.decided_now} now, {elapsed:.1f} s)"
    )
    typer.echo(
        f"  eligible {outcomes.get('eligible', 0)}, ineligible {outcomes.get('ineligible', 0)}; "
        f"listed {summary['listed']} in {len(summary['precincts'])} precincts, "
        f"unassigned {summary['unassigned']}"
    )
    by_basis = ", ".join(f"{basis} {n}" for basis, n in summary["basis"].items())
    typer.echo(f"  listed by basis: {by_basis or 'none'}")
    typer.echo(f"  audit entries {audit['first_seq']}..{audit['last_seq']}")
    spent = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in report.timings.items())
    typer.echo(f"  main process: {spent}")
    typer.echo(f"  summary {report.summary_path}")
