"""How every voterctl command reports a refusal: one line on stderr and an exit code."""

from __future__ import annotations

import typer

EXIT_REFUSED = 2


def fail(message: str, *, code: int = EXIT_REFUSED) -> typer.Exit:
    """Print ``voterctl: message`` to stderr and return the Exit to raise."""
    typer.echo(f"voterctl: {message}", err=True)
    return typer.Exit(code)
