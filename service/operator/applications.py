"""``voterctl applications ...``: applications that move a voter to another list (SPEC §15
ways 3 and 6), recorded by an operator; each answer is the list entry made.

The voter's IIN is read from a file or standard input (``--iin-file FILE|-``), never from
the command line (shell history, the process list); nothing printed names it. The entries
are then listed, found, shown and cancelled with ``voterctl entries ...``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from service.console import fail
from service.operator.commands import Election, Request, connected
from service.operator.entries import render_entry
from service.operator.iin_source import RequiredIinFile, read_iin

applications_app = typer.Typer(
    help="Applications (SPEC §15): record a place-of-stay application the akimat accepted, "
    "or a mission application; each puts the voter on one list.",
    no_args_is_help=True,
)

_STAY_ADDRESS = "give the stay address: --rca CODE, or --kato, --street and --house"


@applications_app.command("place-of-stay")
@connected
def place_of_stay(
    election: Election,
    iin_file: RequiredIinFile,
    document_ref: Annotated[
        str,
        typer.Option("--document-ref", help="The akimat's decision, e.g. its number."),
    ],
    rca: Annotated[str | None, typer.Option("--rca", help="The stay address's code (RCA).")] = None,
    kato: Annotated[
        str | None,
        typer.Option("--kato", help="Instead of --rca: the locality's KATO code."),
    ] = None,
    street: Annotated[str | None, typer.Option("--street", help="With --kato: the street.")] = None,
    house: Annotated[str | None, typer.Option("--house", help="With --kato: the house.")] = None,
) -> Request:
    """Record an accepted place-of-stay application: the voter moves to the precinct that
    covers the stay address (the address itself is not kept)."""
    if rca is None and kato is None:
        raise fail(_STAY_ADDRESS)
    voter = read_iin(iin_file)
    address = {"rca": rca, "kato": kato, "street": street, "house": house}
    return Request(
        lambda api: api.record_place_of_stay_application(
            election_id=election, iin=voter, stay_address=address, document_ref=document_ref
        ),
        render_entry,
    )


@applications_app.command("mission")
@connected
def mission(
    election: Election,
    iin_file: RequiredIinFile,
    precinct: Annotated[str, typer.Option("--precinct", help="The mission's precinct id.")],
    document_ref: Annotated[
        str,
        typer.Option("--document-ref", help="The application at the mission, e.g. its number."),
    ],
) -> Request:
    """Record a mission application of a citizen staying abroad briefly: the voter is put
    on the mission's list."""
    voter = read_iin(iin_file)
    return Request(
        lambda api: api.record_mission_application(
            election_id=election, iin=voter, precinct_id=precinct, document_ref=document_ref
        ),
        render_entry,
    )
