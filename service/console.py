"""What every voterctl command shares: its settings, and one way to report a refusal (one
line on stderr and an exit code)."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from service.config import Settings

EXIT_REFUSED = 2


def fail(message: str, *, code: int = EXIT_REFUSED) -> typer.Exit:
    """Print ``voterctl: message`` to stderr and return the Exit to raise."""
    typer.echo(f"voterctl: {message}", err=True)
    return typer.Exit(code)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise fail(f"invalid configuration: {details}") from None
