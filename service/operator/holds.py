"""Operator commands for the holds on accounts that looked up more voters than their role
allows (SPEC §12): list the holds in force, lift one with a reason."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from service.operator.commands import Body, Reason, Request, _block, _flat, connected
from service.operator.finding import _table

holds_app = typer.Typer(
    help=(
        "Accounts held for looking up too many voters: every voter look-up they make is "
        "refused until an operator (not the held account) lifts the hold."
    ),
    no_args_is_help=True,
)

HoldId = Annotated[str, typer.Argument(metavar="ID", help="Hold id (from `holds list`).")]

HOLD_COLUMNS = {
    "id": "id",
    "account": "account",
    "role": "role",
    "placed_at": "placed at",
    "distinct_voters": "distinct voters",
    "threshold": "threshold",
}
_LIFTED_ROWS = {"status": "status", "lifted_by": "lifted by", "lifted_at": "lifted at"}


def render_hold_list(body: Body) -> list[Any]:
    return _table(HOLD_COLUMNS, body)


def render_hold(body: Body) -> list[Any]:
    rows = [(label, _flat(body.get(key))) for key, label in (HOLD_COLUMNS | _LIFTED_ROWS).items()]
    rows += [("reason", _flat(body.get("lift_reason"))), ("audit", _flat(body.get("audit")))]
    return [_block(rows)]


@holds_app.command("list")
@connected
def holds_list() -> Request:
    """The holds in force, oldest first."""
    return Request(lambda api: api.list_account_holds(), render_hold_list)


@holds_app.command("lift")
@connected
def holds_lift(hold_id: HoldId, reason: Reason) -> Request:
    """Lift a hold: the account's look-ups are admitted again (not on your own account)."""
    return Request(lambda api: api.lift_account_hold(hold_id, reason=reason), render_hold)
