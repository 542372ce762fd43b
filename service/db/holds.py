"""The accounts under a hold, kept in memory and refreshed from the database: the account
holds use case's ``HeldAccounts``.

A look-up asks ``is_held`` on every request, so it must not cost a database round trip:
the set is read again at most every ``refresh_seconds``, by the first request after that,
as ``ReferenceCache`` reloads. This replica's own placements and lifts apply at once; a
hold placed or lifted by another replica is seen within ``refresh_seconds``.
"""

from __future__ import annotations

import time

import anyio

from service.db import repository
from service.db.engine import Database, read_session
from service.logs import get_logger

_log = get_logger("service.holds")


class HeldAccountsCache:
    def __init__(self, database: Database, *, refresh_seconds: float = 5.0) -> None:
        self._database = database
        self._refresh_seconds = refresh_seconds
        self._held = self._load()
        self._checked_at = time.monotonic()
        # Bumped by every local change: a refresh read before it must not undo it.
        self._generation = 0
        self._lock = anyio.Lock()

    def _load(self) -> set[str]:
        with read_session(self._database) as session:
            return repository.held_accounts(session)

    async def is_held(self, account: str) -> bool:
        if time.monotonic() - self._checked_at >= self._refresh_seconds:
            await self._refresh()
        return account in self._held

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._checked_at < self._refresh_seconds:
                return
            generation = self._generation
            try:
                held = await anyio.to_thread.run_sync(self._load)
            except Exception as exc:  # noqa: BLE001 - keep the holds known; try again later
                _log.error("holds.refresh.failed", error=type(exc).__name__)
                self._checked_at = time.monotonic()
                return
            if generation == self._generation:
                self._held = held
                self._checked_at = time.monotonic()

    def placed(self, account: str) -> None:
        self._generation += 1
        self._held.add(account)

    def lifted(self, account: str) -> None:
        self._generation += 1
        self._held.discard(account)
