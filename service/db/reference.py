"""Reference data (precincts, elections) cached in memory, reloaded after an import: the use
cases' ``ReferenceSource``.

Imports are rare and run from the operator CLI against the database; every replica notices a
new import id at most ``refresh_seconds`` later (SPEC §16 asks for 10 s) and rebuilds its
indexes from the versions then in force, read in one transaction.
"""

from __future__ import annotations

import time

import anyio

from service.db import repository
from service.db.engine import Database, read_session
from service.domain.precincts import PrecinctDirectory
from service.usecases.ports import ReferenceData


def load_reference(database: Database) -> ReferenceData:
    with read_session(database) as session:
        import_id = repository.latest_import_id(session)
        versions = repository.current_versions(session)
        precincts = repository.load_precincts(session, versions.precincts)
        elections = repository.load_elections(session, versions.elections)
    return ReferenceData(
        import_id=import_id,
        directory=PrecinctDirectory(precincts),
        elections={e.id: e for e in elections},
        versions=versions,
    )


class ReferenceCache:
    def __init__(self, database: Database, *, refresh_seconds: float = 5.0) -> None:
        self._database = database
        self._refresh_seconds = refresh_seconds
        self._data = load_reference(database)
        self._checked_at = time.monotonic()
        self._lock = anyio.Lock()

    def _latest_import_id(self) -> int:
        with read_session(self._database) as session:
            return repository.latest_import_id(session)

    async def current(self) -> ReferenceData:
        if time.monotonic() - self._checked_at < self._refresh_seconds:
            return self._data
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._refresh_seconds:
                latest = await anyio.to_thread.run_sync(self._latest_import_id)
                if latest != self._data.import_id:
                    self._data = await anyio.to_thread.run_sync(load_reference, self._database)
                self._checked_at = time.monotonic()
        return self._data
