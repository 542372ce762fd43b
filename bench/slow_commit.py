"""The service with every database commit made slower: a stand-in for a slow cloud disk.

``BENCH_COMMIT_DELAY_MS`` milliseconds of sleep are added to each COMMIT of the writer engine
(SQLAlchemy's ``commit`` event), on top of the real fsync. Benchmark only: nothing in the
service knows about it.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event

import service.api.app
from service.api.asgi import app_from_environment
from service.db.engine import Database, open_database

DELAY_SECONDS = int(os.environ.get("BENCH_COMMIT_DELAY_MS", "10")) / 1000


def _slow_database(url: str) -> Database:
    database = open_database(url)

    @event.listens_for(database.writer, "commit")
    def _slow_commit(_connection: Any) -> None:
        time.sleep(DELAY_SECONDS)

    return database


def app() -> FastAPI:
    service.api.app.open_database = _slow_database  # type: ignore[attr-defined]
    return app_from_environment()
