"""Where an operator command reads a voter's IIN from: a file, or standard input.

An IIN typed as an argument stays in the shell's history and is visible to every local
account in the process list while the command runs; read from a file or a pipe it is in
neither. New commands take it only this way; older ones also keep their argument.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from service.console import fail

STDIN = "-"
IIN_FILE_HELP = (
    "File holding the voter's IIN, or - to read it from standard input: unlike an argument, "
    "it stays out of shell history and the process list."
)

IinFile = Annotated[
    Path | None,
    typer.Option("--iin-file", metavar="FILE|-", dir_okay=False, help=IIN_FILE_HELP),
]
RequiredIinFile = Annotated[
    Path, typer.Option("--iin-file", metavar="FILE|-", dir_okay=False, help=IIN_FILE_HELP)
]


def read_iin(iin_file: Path) -> str:
    """The one IIN in ``iin_file`` (``-``: standard input). Its text is never echoed."""
    from_stdin = str(iin_file) == STDIN
    source = "standard input" if from_stdin else str(iin_file)
    try:
        text = sys.stdin.read() if from_stdin else iin_file.read_text("utf-8")
    except OSError as exc:
        raise fail(f"cannot read {source}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise fail(f"{source} is not text") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise fail(f"no IIN in {source}")
    if len(lines) > 1:
        raise fail(f"{source} holds more than one line; give one IIN")
    return lines[0]


def iin_from(iin: str | None, iin_file: Path | None) -> str:
    """The IIN given as an argument or in a file: exactly one of them."""
    if iin_file is not None and iin is None:
        return read_iin(iin_file)
    if iin is not None and iin_file is None:
        return iin
    raise fail("give the IIN either as an argument or with --iin-file FILE|- (preferred)")
