"""The compile's progress on stderr: a live bar on a terminal, a line every few seconds else."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

LINE_EVERY_SECONDS = 10.0


class ConsoleProgress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._live = self._stream.isatty()
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._total = 0
        self._done = 0
        self._started = time.monotonic()
        self._resumed_at = 0
        self._last_line = 0.0

    def begin(self, *, total: int, done: int) -> None:
        self._total, self._done, self._resumed_at = total, done, done
        self._started = time.monotonic()
        if self._live:
            self._bar = Progress(
                TextColumn("[bold]deciding"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} persons/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self._stream),
            )
            self._bar.start()
            self._task = self._bar.add_task("deciding", total=total, completed=done, rate="-")
        elif done:
            self._line(f"resuming: {done} of {total} persons already committed")

    def _rate(self) -> float:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return (self._done - self._resumed_at) / elapsed

    def advance(self, persons: int) -> None:
        self._done += persons
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self._done, rate=f"{self._rate():,.0f}")
            return
        now = time.monotonic()
        if now - self._last_line >= LINE_EVERY_SECONDS or self._done >= self._total:
            self._last_line = now
            share = 100 * self._done / self._total if self._total else 100.0
            self._line(
                f"decided {self._done} of {self._total} persons ({share:.1f}%), "
                f"{self._rate():,.0f} persons/s"
            )

    def stage(self, text: str) -> None:
        self._stop_bar()
        self._line(text)

    def end(self) -> None:
        self._stop_bar()

    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _line(self, text: str) -> None:
        print(f"voterctl roll: {text}", file=self._stream, flush=True)
