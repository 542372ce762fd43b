"""Operator commands that talk to a running API over HTTP (SPEC §5-7, §13).

Exit codes: 0 done, 2 a local usage problem (no token, bad option), 4 the server refused
(any 4xx), 5 the server is unavailable (5xx, unreachable, timed out).
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from service.console import EXIT_REFUSED, fail
from service.domain.model import OverrideKind
from service.domain.overrides import OverrideReason
from service.messages import DEFAULT_LANGUAGE, Language
from service.operator.client import (
    ApiClient,
    ApiRefused,
    ApiUnavailable,
    UnsafeUrlValue,
)
from service.operator.iin_source import IinFile, iin_from

EXIT_USAGE = EXIT_REFUSED
EXIT_API_REFUSED = 4
EXIT_UNAVAILABLE = 5

DEFAULT_SERVER_URL = "http://127.0.0.1:8000"
MISSING = "—"
AUTH_HINT = (
    "pass a token with --token-file PATH (VOTER_TOKEN_FILE) or --token (VOTER_TOKEN); "
    "in development mint one with `voterctl token mint --sub NAME --role operator`"
)

override_app = typer.Typer(
    help=(
        "Manual overrides (SPEC §7): one operator creates or asks to revoke, "
        "a different one approves."
    ),
    no_args_is_help=True,
)
registration_app = typer.Typer(help="Day registrations (SPEC §6).", no_args_is_help=True)

Body = dict[str, Any]
Render = Callable[[Body], list[Any]]


def one_of(values: type[StrEnum]) -> str:
    """An option's help naming its closed list, taken from the domain's enum."""
    return "One of: " + ", ".join(member.value for member in values) + "."


def make_client(base_url: str, token: str, *, language: str) -> ApiClient:
    """The one place commands get a client, so tests can swap in a mock transport."""
    return ApiClient(base_url, token, language=language)


# --- options shared by every command ------------------------------------------------------

Server = Annotated[
    str, typer.Option("--server", envvar="VOTER_SERVER_URL", help="Base URL of the API.")
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="VOTER_TOKEN",
        show_default=False,
        help="Bearer token. Visible to other local users in the process list: prefer a file.",
    ),
]
TokenFile = Annotated[
    Path | None,
    typer.Option(
        "--token-file", envvar="VOTER_TOKEN_FILE", dir_okay=False, help="File holding the token."
    ),
]
Lang = Annotated[
    Language,
    typer.Option("--lang", help="Language of reasons and errors (the API's default too)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the server's JSON answer as is.")]
Election = Annotated[str, typer.Option("--election", help="Election id.")]
Reason = Annotated[str, typer.Option("--reason", help="Why; kept in the audit log.")]
OverrideId = Annotated[str, typer.Argument(metavar="ID", help="Override id.")]
RegistrationId = Annotated[str, typer.Argument(metavar="ID", help="Day registration id.")]
_KEYWORD = inspect.Parameter.KEYWORD_ONLY


@dataclass(frozen=True)
class Connection:
    server: str
    token: str | None
    token_file: Path | None
    language: Language
    as_json: bool


@dataclass(frozen=True)
class Request:
    """What an operator command asks of the API, and how its answer is shown."""

    call: Callable[[ApiClient], Body]
    render: Render
    # The exit code an answer means, when not every answer is success (0).
    exit_code: Callable[[Body], int] | None = None


# The options every operator command takes, declared once: ``connected`` adds them.
_CONNECTION_OPTIONS = (
    inspect.Parameter("server", _KEYWORD, default=DEFAULT_SERVER_URL, annotation=Server),
    inspect.Parameter("token", _KEYWORD, default=None, annotation=Token),
    inspect.Parameter("token_file", _KEYWORD, default=None, annotation=TokenFile),
    inspect.Parameter("lang", _KEYWORD, default=DEFAULT_LANGUAGE, annotation=Lang),
    inspect.Parameter("as_json", _KEYWORD, default=False, annotation=AsJson),
)


def connected(command: Callable[..., Request]) -> Callable[..., None]:
    """An operator command with the connection options added to its own parameters.

    ``command`` takes only its own arguments and returns the ``Request`` to make; the
    wrapper's signature, which typer reads, is the command's followed by the shared options.
    """
    own = inspect.signature(command, eval_str=True)
    parameters = [p.replace(kind=_KEYWORD) for p in own.parameters.values()]
    parameters += _CONNECTION_OPTIONS

    @functools.wraps(command)
    def run(**arguments: Any) -> None:
        connection = Connection(
            server=arguments.pop("server"),
            token=arguments.pop("token"),
            token_file=arguments.pop("token_file"),
            language=arguments.pop("lang"),
            as_json=arguments.pop("as_json"),
        )
        request = command(**arguments)
        body = _run(connection, request.call, request.render)
        if request.exit_code is not None and (code := request.exit_code(body)):
            raise typer.Exit(code)

    del run.__wrapped__  # typer must read the signature below, not the command's
    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run


def _run(connection: Connection, call: Callable[[ApiClient], Body], render: Render) -> Body:
    base_url = _checked_server(connection.server)
    token = _resolve_token(connection.token, connection.token_file)
    try:
        with make_client(base_url, token, language=connection.language.value) as api:
            body = call(api)
    except UnsafeUrlValue as exc:
        raise fail(str(exc)) from None
    except ApiUnavailable as exc:
        raise fail(f"server unavailable: {exc}", code=EXIT_UNAVAILABLE) from None
    except ApiRefused as exc:
        if connection.as_json:
            # Scripts get the problem body on stdout too; the exit code tells them it failed.
            _print_json(exc.problem)
        _report_refusal(exc)
        raise typer.Exit(
            EXIT_API_REFUSED if 400 <= exc.status < 500 else EXIT_UNAVAILABLE
        ) from None
    if connection.as_json:
        _print_json(body)
        return body
    console = _console()
    for renderable in render(body):
        console.print(renderable)
    return body


def _checked_server(server: str) -> str:
    try:
        url = httpx.URL(server)
    except httpx.InvalidURL:
        raise fail(f"--server is not a URL: {server!r}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise fail(f"--server must be an http:// or https:// URL, got {server!r}")
    return server


def _resolve_token(token: str | None, token_file: Path | None) -> str:
    token = token.strip() if token else None
    if token and token_file is not None:
        raise fail("give either a token or a token file, not both (check VOTER_TOKEN*)")
    if token_file is not None:
        try:
            token = token_file.read_text("utf-8").strip()
        except OSError as exc:
            raise fail(f"cannot read token file {token_file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise fail(f"token file {token_file} is not text") from None
        if not token:
            raise fail(f"token file {token_file} is empty")
    if not token:
        raise fail(f"no token: {AUTH_HINT}")
    # A newline would end the Authorization header early; say so rather than send half a token.
    if any(ch.isspace() for ch in token):
        raise fail("the token contains whitespace; a token is one line with no spaces")
    return token


def _console() -> Console:
    # Server texts may contain brackets: never read them as rich markup.
    console = Console(markup=False, highlight=False, emoji=False)
    if not console.is_terminal:
        # Piped output is read by people with pagers and by grep: do not cut ids at 80 columns.
        console = Console(markup=False, highlight=False, emoji=False, width=200)
    return console


def _print_json(body: Body) -> None:
    typer.echo(json.dumps(body, ensure_ascii=False, indent=2))


def _report_refusal(exc: ApiRefused) -> None:
    problem = exc.problem
    kind = "refused" if 400 <= exc.status < 500 else "server unavailable"
    detail = problem.get("detail") or problem.get("title") or f"HTTP {exc.status}"
    request_id = problem.get("request_id") or MISSING
    typer.echo(f"voterctl: {kind}: {exc.code}: {detail} (request id {request_id})", err=True)
    for key, value in exc.extensions.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            typer.echo(f"  {key}: {_flat(item)}", err=True)
    if exc.retry_after_seconds is not None:
        typer.echo(f"  retry after: {exc.retry_after_seconds} s", err=True)
    if exc.status == 401:
        typer.echo(f"  hint: {AUTH_HINT}", err=True)


# --- rendering ---------------------------------------------------------------------------


def _flat(value: Any) -> str:
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        if "code" in value and "message" in value:
            return f"{value['code']}: {value['message']}"
        return ", ".join(f"{k}={_flat(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_flat(item) for item in value) or MISSING
    return str(value)


def _precinct(value: Any) -> str:
    if not isinstance(value, dict):
        return _flat(value)
    parts = [str(value.get("id", MISSING)), f"№{value.get('number', MISSING)}"]
    parts += [str(value[k]) for k in ("name", "address") if value.get(k)]
    return "  ".join(parts)


def _audit(value: Any) -> str:
    if not isinstance(value, dict):
        return _flat(value)
    return f"seq {value.get('seq', MISSING)}  {value.get('entry_hash', MISSING)}"


def _reasons(value: Any) -> str:
    if not value:
        return MISSING
    return "\n".join(_flat(item) for item in value) if isinstance(value, list) else _flat(value)


def _next_steps(value: Any) -> str:
    if not isinstance(value, list) or not value:
        return MISSING
    lines = []
    for step in value:
        ids = ", ".join(step.get("precinct_ids") or [])
        lines.append(f"{step.get('code', MISSING)}: {ids}" if ids else _flat(step.get("code")))
    return "\n".join(lines)


def _undo_requests(value: Any, *, title: str) -> list[Any]:
    """A table of the revocation or cancellation requests, if there were any."""
    if not isinstance(value, list) or not value:
        return []
    table = Table(
        "request",
        "status",
        "requested by",
        "at",
        "reason",
        "decided by",
        "at",
        "decision",
        title=title,
        box=box.SIMPLE,
    )
    for item in value:
        keys = (
            "id",
            "status",
            "requested_by",
            "requested_at",
            "reason",
            "decided_by",
            "decided_at",
            "decision_reason",
        )
        table.add_row(*(_flat(item.get(k)) for k in keys))
    return [table]


def _pending_by(value: Any) -> str:
    """Who asked for the pending revocation or cancellation, for one line of a list."""
    pending = [r for r in value or [] if isinstance(r, dict) and r.get("status") == "pending"]
    return f"pending: {_flat(pending[0].get('requested_by'))}" if pending else MISSING


def _block(rows: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def render_decision(body: Body) -> list[Any]:
    return [
        _block(
            [
                ("decision", _flat(body.get("decision_id"))),
                ("election", _flat(body.get("election_id"))),
                ("outcome", _flat(body.get("outcome"))),
                ("reasons", _reasons(body.get("reasons"))),
                ("precinct", _precinct(body.get("precinct"))),
                ("basis", _flat(body.get("basis"))),
                ("override", _flat(body.get("override_id"))),
                ("next steps", _next_steps(body.get("next_steps"))),
                ("ruleset", _flat(body.get("ruleset"))),
                ("registry data as of", _flat(body.get("registry_data_as_of"))),
                ("decided at", _flat(body.get("decided_at"))),
                ("audit", _audit(body.get("audit"))),
            ]
        )
    ]


def render_precinct_check(body: Body) -> list[Any]:
    return [
        _block(
            [
                ("check", _flat(body.get("check_id"))),
                ("election", _flat(body.get("election_id"))),
                ("precinct", _flat(body.get("precinct_id"))),
                ("included", _flat(body.get("included"))),
                ("outcome", _flat(body.get("outcome"))),
                ("reasons", _reasons(body.get("reasons"))),
                ("belongs to", _precinct(body.get("belongs_to"))),
                ("basis", _flat(body.get("basis"))),
                ("decided at", _flat(body.get("decided_at"))),
                ("audit", _audit(body.get("audit"))),
            ]
        )
    ]


def render_override(body: Body) -> list[Any]:
    renderables: list[Any] = [
        _block(
            [
                ("override", _flat(body.get("id"))),
                ("status", _flat(body.get("status"))),
                ("election", _flat(body.get("election_id"))),
                ("subject", _flat(body.get("subject"))),
                ("kind", _flat(body.get("kind"))),
                ("precinct", _flat(body.get("precinct_id"))),
                ("reason code", _flat(body.get("reason_code"))),
                ("reason text", _flat(body.get("reason_text"))),
                ("document", _flat(body.get("document_ref"))),
                ("expires on", _flat(body.get("expires_on"))),
                ("created by", _flat(body.get("created_by"))),
                ("created at", _flat(body.get("created_at"))),
                ("audit", _audit(body.get("audit"))),
            ]
        )
    ]
    actions = body.get("actions") or []
    if actions:
        table = Table("action", "by", "at", "reason", box=box.SIMPLE)
        for action in actions:
            table.add_row(*(_flat(action.get(k)) for k in ("action", "by", "at", "reason")))
        renderables.append(table)
    renderables += _undo_requests(body.get("revocation_requests"), title="revocation requests")
    return renderables


def render_registration(body: Body) -> list[Any]:
    requests = _undo_requests(body.get("cancellation_requests"), title="cancellation requests")
    return [
        _block(
            [
                ("registration", _flat(body.get("id"))),
                ("status", _flat(body.get("status"))),
                ("election", _flat(body.get("election_id"))),
                ("precinct", _precinct(body.get("precinct"))),
                ("registered by", _flat(body.get("registered_by"))),
                ("registered at", _flat(body.get("registered_at"))),
                ("lapses at", _flat(body.get("lapses_at"))),
                ("cancelled at", _flat(body.get("cancelled_at"))),
                ("cancelled by", _flat(body.get("cancelled_by"))),
                ("cancel reason", _flat(body.get("cancel_reason"))),
                ("audit", _audit(body.get("audit"))),
            ]
        ),
        *requests,
    ]


# --- commands ----------------------------------------------------------------------------


IinArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="[IIN]",
        show_default=False,
        help="The voter's IIN (sent in the body). Prefer --iin-file: an argument stays in "
        "shell history and the process list.",
    ),
]


@connected
def check(
    election: Election,
    iin: IinArgument = None,
    iin_file: IinFile = None,
) -> Request:
    """Decide whether a voter may vote in an election, and where."""
    voter = iin_from(iin, iin_file)
    return Request(
        lambda api: api.check_eligibility(iin=voter, election_id=election),
        render_decision,
    )


@connected
def precinct_check(
    election: Election,
    precinct: Annotated[str, typer.Option("--precinct", help="The commission's precinct id.")],
    iin: IinArgument = None,
    iin_file: IinFile = None,
) -> Request:
    """Service A: is the voter on this precinct's list? If not, say why and where instead."""
    voter = iin_from(iin, iin_file)
    return Request(
        lambda api: api.check_precinct(iin=voter, election_id=election, precinct_id=precinct),
        render_precinct_check,
    )


@override_app.command("create")
@connected
def override_create(
    election: Election,
    kind: Annotated[OverrideKind, typer.Option("--kind", help=one_of(OverrideKind))],
    reason_code: Annotated[
        OverrideReason, typer.Option("--reason-code", help=one_of(OverrideReason))
    ],
    reason_text: Annotated[str, typer.Option("--reason-text", help="Free-text explanation.")],
    document: Annotated[
        str, typer.Option("--document", help="Document reference, e.g. a court decision.")
    ],
    precinct: Annotated[
        str | None, typer.Option("--precinct", help="Target precinct (for assign).")
    ] = None,
    expires_on: Annotated[
        dt.datetime | None,
        typer.Option(
            "--expires-on",
            formats=["%Y-%m-%d"],
            metavar="YYYY-MM-DD",
            help="Last day in force (default: the day after voting day).",
        ),
    ] = None,
    iin: Annotated[
        str | None,
        typer.Option(
            "--iin",
            show_default=False,
            help="The voter's IIN (sent in the body). Prefer --iin-file: an option's value "
            "stays in shell history and the process list.",
        ),
    ] = None,
    iin_file: IinFile = None,
) -> Request:
    """Propose an override; it stays pending until a different operator approves it."""
    voter = iin_from(iin, iin_file)
    return Request(
        lambda api: api.create_override(
            iin=voter,
            election_id=election,
            kind=kind,
            precinct_id=precinct,
            reason_code=reason_code.value,
            reason_text=reason_text,
            document_ref=document,
            expires_on=expires_on.date() if expires_on else None,
        ),
        render_override,
    )


@override_app.command("approve")
@connected
def override_approve(
    override_id: OverrideId,
) -> Request:
    """Approve a pending override (the checker must not be its maker)."""
    return Request(lambda api: api.approve_override(override_id), render_override)


@override_app.command("refuse")
@connected
def override_refuse(
    override_id: OverrideId,
    reason: Reason,
) -> Request:
    """Refuse a pending override."""
    return Request(lambda api: api.refuse_override(override_id, reason=reason), render_override)


@override_app.command("revoke")
@connected
def override_revoke(
    override_id: OverrideId,
    reason: Reason,
) -> Request:
    """Ask for an active override to be revoked; it stays active until a different operator
    runs `override revoke-approve`."""
    return Request(lambda api: api.revoke_override(override_id, reason=reason), render_override)


ReviewedRequest = Annotated[
    str | None,
    typer.Option(
        "--request",
        help="The undo request you reviewed (its id in `show`): refused if another is open now.",
    ),
]


@override_app.command("revoke-approve")
@connected
def override_revoke_approve(
    override_id: OverrideId,
    request: ReviewedRequest = None,
) -> Request:
    """Approve the pending revocation request (not its requester): the override is revoked."""
    return Request(
        lambda api: api.approve_override_revocation(override_id, undo_request_id=request),
        render_override,
    )


@override_app.command("revoke-refuse")
@connected
def override_revoke_refuse(
    override_id: OverrideId,
    reason: Reason,
) -> Request:
    """Refuse (or, as its requester, withdraw) the pending revocation request."""
    return Request(
        lambda api: api.refuse_override_revocation(override_id, reason=reason), render_override
    )


@registration_app.command("show")
@connected
def registration_show(
    registration_id: RegistrationId,
) -> Request:
    """Show one day registration."""
    return Request(lambda api: api.get_day_registration(registration_id), render_registration)


@registration_app.command("cancel")
@connected
def registration_cancel(
    registration_id: RegistrationId,
    reason: Reason,
) -> Request:
    """Ask for a day registration to be cancelled; it stays active until a different
    operator runs `registration cancel-approve`."""
    return Request(
        lambda api: api.cancel_day_registration(registration_id, reason=reason),
        render_registration,
    )


@registration_app.command("cancel-approve")
@connected
def registration_cancel_approve(
    registration_id: RegistrationId,
    request: ReviewedRequest = None,
) -> Request:
    """Approve the pending cancellation (not its requester); the voter may register again."""
    return Request(
        lambda api: api.approve_day_registration_cancellation(
            registration_id, undo_request_id=request
        ),
        render_registration,
    )


@registration_app.command("cancel-refuse")
@connected
def registration_cancel_refuse(
    registration_id: RegistrationId,
    reason: Reason,
) -> Request:
    """Refuse (or, as its requester, withdraw) the pending cancellation request."""
    return Request(
        lambda api: api.refuse_day_registration_cancellation(registration_id, reason=reason),
        render_registration,
    )
