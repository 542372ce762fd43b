"""``voterctl`` commands an operator runs against the API over HTTP (SPEC §5-7)."""

from __future__ import annotations

import typer

from service.operator.applications import applications_app
from service.operator.certificates import certificates_app
from service.operator.commands import check, override_app, precinct_check, registration_app
from service.operator.entries import entries_app, presence_app
from service.operator.finding import elections_app, precincts_app
from service.operator.holds import holds_app


def register(app: typer.Typer) -> None:
    """Add ``check``, ``precinct-check``, ``override ...``, ``registration ...``,
    ``elections ...``, ``precincts ...``, ``holds ...``, ``presence import``,
    ``entries ...``, ``applications ...`` and ``certificates ...`` to ``app``."""
    app.command("check")(check)
    app.command("precinct-check")(precinct_check)
    app.add_typer(override_app, name="override")
    app.add_typer(registration_app, name="registration")
    app.add_typer(elections_app, name="elections")
    app.add_typer(precincts_app, name="precincts")
    app.add_typer(holds_app, name="holds")
    app.add_typer(presence_app, name="presence")
    app.add_typer(entries_app, name="entries")
    app.add_typer(applications_app, name="applications")
    app.add_typer(certificates_app, name="certificates")
