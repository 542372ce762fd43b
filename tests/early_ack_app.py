"""A deliberately broken server for the crash test's negative control: it answers first.

Every ``write_session`` of the service is redirected into one long-lived transaction: the
work runs (decision rows, audit entries, real receipts), the block returns as if committed,
and the caller is answered; a thread commits that transaction only every
``COMMIT_INTERVAL_SECONDS``. It is the bug of a group commit that acknowledges a decision when
its batch is written instead of when the batch commits. Each block runs in a savepoint, so a
block that fails still rolls back alone.

The seam is ``service.db.engine.write_session``, the one way the service opens a write
transaction; it does not depend on how the recorder batches. Nothing but a broken server: it
lives under tests/ and the service never imports it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from sqlmodel import Session

from service.api.app import create_app
from service.config import Settings
from service.db import engine
from service.db.engine import Database
from service.logs import configure_logging

COMMIT_INTERVAL_SECONDS = 1.0


class CommitLater:
    """One open write transaction that every write joins; committed on a timer."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._session: Session | None = None
        threading.Thread(target=self._commit_forever, daemon=True).start()

    @contextmanager
    def write_session(self, database: Database) -> Iterator[Session]:
        with self._lock:
            if self._session is None:
                self._session = Session(database.writer)
                self._session.begin()
            with self._session.begin_nested():
                yield self._session

    def _commit_forever(self) -> None:
        while True:
            time.sleep(COMMIT_INTERVAL_SECONDS)
            with self._lock:
                if self._session is not None:
                    self._session.commit()
                    self._session.close()
                    self._session = None


def app_from_environment() -> FastAPI:
    settings = Settings()
    configure_logging(json_output=True)
    later = CommitLater()
    real = engine.write_session
    # Wherever the service imported it (engine, recorder, group commit, app), and for
    # whatever imports it later from service.db.engine.
    for name, module in list(sys.modules.items()):
        if name.startswith("service.") and getattr(module, "write_session", None) is real:
            module.write_session = later.write_session  # type: ignore[attr-defined]
    return create_app(settings)
