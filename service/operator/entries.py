"""``voterctl presence import`` and ``voterctl entries ...``: presence lists of special
precincts and the list entries they make (SPEC §15 way 2).

The IINs come from a file, one per line, never from the command line (shell history, the
process list); the answer names each line by its number, never by the IIN it held.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from service.console import EXIT_REFUSED, fail
from service.operator.commands import (
    Body,
    Election,
    Reason,
    Request,
    ReviewedRequest,
    _audit,
    _block,
    _flat,
    _precinct,
    _undo_requests,
    connected,
)
from service.operator.iin_source import STDIN

presence_app = typer.Typer(
    help="Presence lists of special precincts (SPEC §15): who is at a hospital, detention "
    "centre, ship, pasture or military unit on voting day.",
    no_args_is_help=True,
)
entries_app = typer.Typer(
    help="List entries (SPEC §15) of every kind: list them, find a voter's, show one; "
    "cancelling takes two operators.",
    no_args_is_help=True,
)

# The most IINs the API takes in one presence list.
MAX_LINES = 2000
# Exit code of an import in which any line was refused (the others were recorded).
EXIT_LINES_REFUSED = EXIT_REFUSED

EntryId = Annotated[str, typer.Argument(metavar="ID", help="List entry id.")]


def read_iin_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of each non-blank line of ``path`` (``-``: standard input)."""
    from_stdin = str(path) == STDIN
    source = "standard input" if from_stdin else str(path)
    try:
        text = sys.stdin.read() if from_stdin else path.read_text("utf-8")
    except OSError as exc:
        raise fail(f"cannot read {source}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise fail(f"{source} is not text") from None
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise fail(f"no IIN in {source}")
    if len(lines) > MAX_LINES:
        raise fail(f"{source} holds {len(lines)} IINs; at most {MAX_LINES} a list: split it")
    return lines


def render_import(body: Body, line_numbers: list[int]) -> list[Any]:
    table = Table("line", "entry", "refused", "held by", box=box.SIMPLE)
    for result in body.get("results") or []:
        index = result.get("index")
        known = isinstance(index, int) and 0 <= index < len(line_numbers)
        line = line_numbers[index] if known else index
        holder = result.get("holder")
        table.add_row(
            _flat(line),
            _flat(result.get("entry_id")),
            _flat(result.get("code")),
            f"{holder.get('kind')} {holder.get('id')}" if isinstance(holder, dict) else "—",
        )
    summary = _block(
        [
            ("election", _flat(body.get("election_id"))),
            ("precinct", _precinct(body.get("precinct"))),
            ("import", _flat(body.get("import_id"))),
            ("added", _flat(body.get("added"))),
            ("refused", _flat(body.get("refused"))),
        ]
    )
    return [summary, table]


def render_entry(body: Body) -> list[Any]:
    requests = _undo_requests(body.get("cancellation_requests"), title="cancellation requests")
    return [
        _block(
            [
                ("entry", _flat(body.get("id"))),
                ("kind", _flat(body.get("kind"))),
                ("status", _flat(body.get("status"))),
                ("election", _flat(body.get("election_id"))),
                ("precinct", _precinct(body.get("precinct"))),
                ("document", _flat(body.get("document_ref"))),
                ("created by", _flat(body.get("created_by"))),
                ("created at", _flat(body.get("created_at"))),
                ("cancelled at", _flat(body.get("cancelled_at"))),
                ("cancelled by", _flat(body.get("cancelled_by"))),
                ("cancel reason", _flat(body.get("cancel_reason"))),
                ("audit", _audit(body.get("audit"))),
            ]
        ),
        *requests,
    ]


@presence_app.command("import")
@connected
def presence_import(
    election: Election,
    precinct: Annotated[str, typer.Option("--precinct", help="The special precinct's id.")],
    document_ref: Annotated[
        str,
        typer.Option("--document-ref", help="The institution's list, e.g. its letter number."),
    ],
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE|-",
            dir_okay=False,
            help="IINs one per line (blank lines skipped), or - for standard input.",
        ),
    ],
) -> Request:
    """Import a presence list: each line's entry id, or why it was refused (exit 2 if any)."""
    lines = read_iin_lines(file)
    numbers = [n for n, _ in lines]
    return Request(
        lambda api: api.import_presence_list(
            election_id=election,
            precinct_id=precinct,
            iins=[iin for _, iin in lines],
            document_ref=document_ref,
        ),
        lambda body: render_import(body, numbers),
        exit_code=lambda body: EXIT_LINES_REFUSED if body.get("refused") else 0,
    )


@entries_app.command("show")
@connected
def entry_show(entry_id: EntryId) -> Request:
    """Show one list entry."""
    return Request(lambda api: api.get_list_entry(entry_id), render_entry)


@entries_app.command("cancel")
@connected
def entry_cancel(entry_id: EntryId, reason: Reason) -> Request:
    """Ask for a list entry to be cancelled; it stays active until a different operator runs
    `entries cancel-approve`."""
    return Request(lambda api: api.cancel_list_entry(entry_id, reason=reason), render_entry)


@entries_app.command("cancel-approve")
@connected
def entry_cancel_approve(entry_id: EntryId, request: ReviewedRequest = None) -> Request:
    """Approve the pending cancellation (not its requester): the voter's place is freed."""
    return Request(
        lambda api: api.approve_list_entry_cancellation(entry_id, undo_request_id=request),
        render_entry,
    )


@entries_app.command("cancel-refuse")
@connected
def entry_cancel_refuse(entry_id: EntryId, reason: Reason) -> Request:
    """Refuse (or, as its requester, withdraw) the pending cancellation request."""
    return Request(
        lambda api: api.refuse_list_entry_cancellation(entry_id, reason=reason), render_entry
    )
