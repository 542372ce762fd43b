"""Operator commands that find things: a voter's overrides, day registrations and list
entries by IIN, filtered listings page by page, and the election calendar and precinct
directory as the API serves them.

A voter is named by an IIN read from a file or standard input (``--iin-file FILE|-``) and
sent in a request body; the server looks the voter up by pseudonym and audits the look-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from service.domain.day_registration import RegistrationStatus
from service.domain.model import ListEntryKind, ListEntryStatus, OverrideKind
from service.domain.overrides import OverrideStatus
from service.operator.client import ApiClient, Filters
from service.operator.commands import (
    MISSING,
    Body,
    Request,
    _block,
    _flat,
    _pending_by,
    connected,
    one_of,
    override_app,
    registration_app,
)
from service.operator.entries import entries_app
from service.operator.iin_source import RequiredIinFile, read_iin

elections_app = typer.Typer(
    help="The election calendar, as the API serves it.", no_args_is_help=True
)
precincts_app = typer.Typer(
    help="The precinct directory, as the API serves it.", no_args_is_help=True
)

# The most pages one command follows: 1,000 pages of up to 1,000 records.
MAX_PAGES = 1000
Page = Callable[[ApiClient, str | None], Body]

ElectionFilter = Annotated[str | None, typer.Option("--election", help="Only this election.")]
PrecinctFilter = Annotated[str | None, typer.Option("--precinct", help="Only this precinct id.")]
OverrideStatusFilter = Annotated[
    OverrideStatus | None, typer.Option("--status", help=one_of(OverrideStatus))
]
OverrideKindFilter = Annotated[
    OverrideKind | None, typer.Option("--kind", help=one_of(OverrideKind))
]
RegistrationStatusFilter = Annotated[
    RegistrationStatus | None, typer.Option("--status", help=one_of(RegistrationStatus))
]
EntryStatusFilter = Annotated[
    ListEntryStatus | None, typer.Option("--status", help=one_of(ListEntryStatus))
]
EntryKindFilter = Annotated[
    ListEntryKind | None, typer.Option("--kind", help=one_of(ListEntryKind))
]
_INSTANT = "an ISO 8601 instant with its zone, e.g. 2027-03-21T07:00:00+05:00 (exclusive)"
CreatedAfter = Annotated[
    str | None, typer.Option("--created-after", help=f"Created after {_INSTANT}.")
]
CreatedBefore = Annotated[
    str | None, typer.Option("--created-before", help=f"Created before {_INSTANT}.")
]
Limit = Annotated[
    int | None,
    typer.Option("--limit", min=1, max=1000, help="Records per page (the server's default 100)."),
]
Cursor = Annotated[
    str | None,
    typer.Option("--cursor", help="Start at this page: the 'next' a previous listing printed."),
]
FollowAll = Annotated[
    bool, typer.Option("--all", help="Follow every page and show them as one listing.")
]


def _pages(first: str | None, page: Page, *, follow: bool) -> Callable[[ApiClient], Body]:
    """The listing from ``first`` on: one page, or with ``follow`` every page after it."""

    def call(api: ApiClient) -> Body:
        body = page(api, first)
        if not follow:
            return body  # as the server sent it, for --json
        items = list(body.get("items") or [])
        pages = 1
        while body.get("next") and pages < MAX_PAGES:
            body = page(api, str(body["next"]))
            items += body.get("items") or []
            pages += 1
        return {"items": items, "next": body.get("next")}

    return call


def _table(columns: dict[str, str], body: Body) -> list[Any]:
    items = body.get("items") or []
    table = Table(*columns.values(), box=box.SIMPLE)
    for item in items:
        table.add_row(*(_cell(item, key) for key in columns))
    footer = f"{len(items)} shown"
    if body.get("next"):
        footer += f"; more with --cursor {body['next']}"
    return [table, footer]


def _cell(item: Body, key: str) -> str:
    value = item.get(key)
    if key.endswith("_requests"):
        return _pending_by(value)  # an undo request waiting for a second operator, or "-"
    if isinstance(value, dict) and "id" in value:
        return str(value["id"])  # a precinct reference: its id is what the columns show
    return _flat(value)


OVERRIDE_COLUMNS = {
    "id": "id",
    "status": "status",
    "kind": "kind",
    "election_id": "election",
    "precinct_id": "precinct",
    "reason_code": "reason code",
    "expires_on": "expires on",
    "created_by": "created by",
    "created_at": "created at",
    "revocation_requests": "revocation",
}
REGISTRATION_COLUMNS = {
    "id": "id",
    "status": "status",
    "election_id": "election",
    "precinct": "precinct",
    "registered_by": "registered by",
    "registered_at": "registered at",
    "cancelled_by": "cancelled by",
    "cancellation_requests": "cancellation",
}
ENTRY_COLUMNS = {
    "id": "id",
    "status": "status",
    "kind": "kind",
    "election_id": "election",
    "precinct": "precinct",
    "document_ref": "document",
    "created_by": "created by",
    "created_at": "created at",
    "cancellation_requests": "cancellation",
}
ELECTION_COLUMNS = {
    "id": "id",
    "kind": "kind",
    "voting_day": "voting day",
    "day_registration": "day registration",
    "ruleset": "ruleset",
}
CALENDAR_ROWS = {
    "applications": "applications",
    "lists_frozen_on": "lists frozen on",
    "absentee_certificates": "absentee certificates",
    "day_registration": "day registration window",
    "presence_lists": "presence lists",
    "mission_applications": "mission applications",
}
PRECINCT_COLUMNS = {
    "id": "id",
    "number": "number",
    "name": "name",
    "kind": "kind",
    "kato": "KATO",
    "country": "country",
    "day_registration": "day registration",
}


def render_override_list(body: Body) -> list[Any]:
    return _table(OVERRIDE_COLUMNS, body)


def render_registration_list(body: Body) -> list[Any]:
    return _table(REGISTRATION_COLUMNS, body)


def render_entry_list(body: Body) -> list[Any]:
    return _table(ENTRY_COLUMNS, body)


def render_election_list(body: Body) -> list[Any]:
    return _table(ELECTION_COLUMNS, body)


def render_election(body: Body) -> list[Any]:
    rows = [(label, _flat(body.get(key))) for key, label in ELECTION_COLUMNS.items()]
    rows += [
        ("called on", _flat(body.get("called_on"))),
        ("territory", ", ".join(body.get("territory") or []) or MISSING),
    ]
    calendar = body.get("calendar") or {}
    for key, label in CALENDAR_ROWS.items():
        rows.append((label, _flat(calendar.get(key))))
    return [_block(rows)]


def render_precinct_list(body: Body) -> list[Any]:
    items = body.get("items") or []
    table = _table(PRECINCT_COLUMNS, {"items": items})[0]
    return [table, f"{len(items)} shown of {_flat(body.get('total'))}"]


def render_precinct(body: Body) -> list[Any]:
    rows = [(label, _flat(body.get(key))) for key, label in PRECINCT_COLUMNS.items()]
    rows += [
        ("address", _flat(body.get("address"))),
        ("city", _flat(body.get("city"))),
        ("timezone", _flat(body.get("timezone"))),
        ("segments", "\n".join(_segment(s) for s in body.get("segments") or []) or MISSING),
        ("buildings", ", ".join(body.get("buildings") or []) or MISSING),
    ]
    return [_block(rows)]


def _segment(segment: Body) -> str:
    return (
        f"{segment.get('street', MISSING)} {segment.get('from', MISSING)}-"
        f"{segment.get('to', MISSING)} ({segment.get('parity', MISSING)})"
    )


# --- overrides -----------------------------------------------------------------------------


@override_app.command("list")
@connected
def override_list(
    election: ElectionFilter = None,
    status: OverrideStatusFilter = None,
    kind: OverrideKindFilter = None,
    precinct: PrecinctFilter = None,
    created_after: CreatedAfter = None,
    created_before: CreatedBefore = None,
    limit: Limit = None,
    cursor: Cursor = None,
    follow: FollowAll = False,
) -> Request:
    """List overrides, oldest first, filtered; one page unless --all."""
    filters: Filters = {
        "election_id": election,
        "status": status,
        "kind": kind,
        "precinct_id": precinct,
        "created_after": created_after,
        "created_before": created_before,
    }
    return Request(
        _pages(
            cursor,
            lambda api, at: api.list_overrides(filters, limit=limit, cursor=at),
            follow=follow,
        ),
        render_override_list,
    )


@override_app.command("find")
@connected
def override_find(
    iin_file: RequiredIinFile,
    election: ElectionFilter = None,
    status: OverrideStatusFilter = None,
    kind: OverrideKindFilter = None,
) -> Request:
    """Every override of one voter (the IIN read from a file or stdin; the look-up is audited)."""
    iin = read_iin(iin_file)
    filters: Filters = {"election_id": election, "status": status, "kind": kind}
    return Request(
        _pages(
            None,
            lambda api, at: api.search_overrides(iin=iin, filters=filters, cursor=at),
            follow=True,
        ),
        render_override_list,
    )


# --- day registrations -----------------------------------------------------------------------


@registration_app.command("list")
@connected
def registration_list(
    election: ElectionFilter = None,
    status: RegistrationStatusFilter = None,
    precinct: PrecinctFilter = None,
    registered_after: Annotated[
        str | None, typer.Option("--registered-after", help=f"Registered after {_INSTANT}.")
    ] = None,
    registered_before: Annotated[
        str | None, typer.Option("--registered-before", help=f"Registered before {_INSTANT}.")
    ] = None,
    limit: Limit = None,
    cursor: Cursor = None,
    follow: FollowAll = False,
) -> Request:
    """List day registrations, oldest first, filtered; one page unless --all."""
    filters: Filters = {
        "election_id": election,
        "status": status,
        "precinct_id": precinct,
        "registered_after": registered_after,
        "registered_before": registered_before,
    }
    return Request(
        _pages(
            cursor,
            lambda api, at: api.list_day_registrations(filters, limit=limit, cursor=at),
            follow=follow,
        ),
        render_registration_list,
    )


@registration_app.command("find")
@connected
def registration_find(
    iin_file: RequiredIinFile,
    election: ElectionFilter = None,
    status: RegistrationStatusFilter = None,
) -> Request:
    """Every day registration of one voter (the IIN read from a file or stdin; audited)."""
    iin = read_iin(iin_file)
    filters: Filters = {"election_id": election, "status": status}
    return Request(
        _pages(
            None,
            lambda api, at: api.search_day_registrations(iin=iin, filters=filters, cursor=at),
            follow=True,
        ),
        render_registration_list,
    )


# --- list entries ----------------------------------------------------------------------------


@entries_app.command("list")
@connected
def entry_list(
    election: ElectionFilter = None,
    kind: EntryKindFilter = None,
    status: EntryStatusFilter = None,
    precinct: PrecinctFilter = None,
    created_after: CreatedAfter = None,
    created_before: CreatedBefore = None,
    limit: Limit = None,
    cursor: Cursor = None,
    follow: FollowAll = False,
) -> Request:
    """List entries of every kind, oldest first, filtered; one page unless --all."""
    filters: Filters = {
        "election_id": election,
        "kind": kind,
        "status": status,
        "precinct_id": precinct,
        "created_after": created_after,
        "created_before": created_before,
    }
    return Request(
        _pages(
            cursor,
            lambda api, at: api.list_list_entries(filters, limit=limit, cursor=at),
            follow=follow,
        ),
        render_entry_list,
    )


@entries_app.command("find")
@connected
def entry_find(
    iin_file: RequiredIinFile,
    election: ElectionFilter = None,
    kind: EntryKindFilter = None,
    status: EntryStatusFilter = None,
) -> Request:
    """Every list entry of one voter (the IIN read from a file or stdin; audited)."""
    iin = read_iin(iin_file)
    filters: Filters = {"election_id": election, "kind": kind, "status": status}
    return Request(
        _pages(
            None,
            lambda api, at: api.search_list_entries(iin=iin, filters=filters, cursor=at),
            follow=True,
        ),
        render_entry_list,
    )


# --- reference data --------------------------------------------------------------------------


@elections_app.command("list")
@connected
def elections_list() -> Request:
    """Every election, by voting day."""
    return Request(lambda api: api.list_elections(), render_election_list)


@elections_app.command("show")
@connected
def elections_show(
    election_id: Annotated[str, typer.Argument(metavar="ID", help="Election id.")],
) -> Request:
    """One election: kind, voting day, day-registration window, rule set."""
    return Request(lambda api: api.get_election(election_id), render_election)


@precincts_app.command("list")
@connected
def precincts_list(
    kato: Annotated[str | None, typer.Option("--kato", help="Only this locality (KATO).")] = None,
    country: Annotated[
        str | None, typer.Option("--country", help="Only this country (ISO 3166 alpha-3).")
    ] = None,
    day_registration: Annotated[
        bool | None,
        typer.Option(
            "--day-registration/--no-day-registration",
            show_default=False,
            help="Only precincts designated (or not) for day registration.",
        ),
    ] = None,
    limit: Limit = None,
    offset: Annotated[int | None, typer.Option("--offset", min=0, help="Skip this many.")] = None,
) -> Request:
    """The precinct directory, by id, filtered."""
    filters: Filters = {"kato": kato, "country": country, "day_registration": day_registration}
    return Request(
        lambda api: api.list_precincts(filters, limit=limit, offset=offset), render_precinct_list
    )


@precincts_app.command("show")
@connected
def precincts_show(
    precinct_id: Annotated[str, typer.Argument(metavar="ID", help="Precinct id.")],
) -> Request:
    """One precinct with its boundaries."""
    return Request(lambda api: api.get_precinct(precinct_id), render_precinct)
