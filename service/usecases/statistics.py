"""Public aggregates of an election (SPEC §17): decisions by outcome and basis, list entries
by kind, per precinct, small counts suppressed (``service.domain.statistics``).

Decision counts are folded from the audit log in seq order, a bounded batch at a time: by
the app's background task as entries arrive, and by a request that finds its answer stale
(so an answer is never more than a batch behind a quiet log). An answer says how far the log
was folded (``folded_seq``). Answers are kept for ``CACHE_SECONDS`` per election: the route
takes no token, and a crowd refreshing it on election night costs one read per election
every half minute, whatever the crowd.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.clock import Clock
from service.domain.access_log import TrailEntry
from service.domain.statistics import DecisionKey, EntryKey, fold, published
from service.errors import ErrorCode, NotFound
from service.usecases.ports import ReferenceSource, Storage, UnitOfWork

FOLD_BATCH = 20_000
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class DecisionCell:
    precinct_id: str | None
    source: str
    outcome: str
    basis: str | None
    count: int | None  # None: fewer than ten, suppressed


@dataclass(frozen=True)
class EntryCell:
    precinct_id: str
    kind: str
    count: int | None


@dataclass(frozen=True)
class ElectionStatistics:
    election_id: str
    decisions: tuple[DecisionCell, ...]
    list_entries: tuple[EntryCell, ...]
    folded_seq: int
    folded_at: dt.datetime | None
    computed_at: dt.datetime


def _decision_cell(key: DecisionKey, count: int) -> DecisionCell:
    return DecisionCell(
        precinct_id=key.precinct_id or None,
        source=key.source,
        outcome=key.outcome,
        basis=key.basis or None,
        count=published(count),
    )


def _entry_cell(key: EntryKey, count: int) -> EntryCell:
    return EntryCell(precinct_id=key.precinct_id, kind=key.kind, count=published(count))


class StatisticsService:
    def __init__(
        self,
        *,
        storage: Storage,
        reference: ReferenceSource,
        clock: Clock,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._storage = storage
        self._reference = reference
        self._clock = clock
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, ElectionStatistics]] = {}

    async def fold(self, *, batch: int = FOLD_BATCH) -> int:
        """Fold at most ``batch`` entries past the position; how many were folded.

        The entries are read and counted outside any write transaction; the write takes the
        position's lock only to add the counts, and only if the position is still where the
        reading started (else another folder got there first, and this batch is dropped, to
        be read again from the new position). So the database's one writer (SQLite) is
        held for a few upserts, not for parsing a batch: checks committing meanwhile do not
        wait on the folder.
        """

        def read(uow: UnitOfWork) -> tuple[int, list[TrailEntry]]:
            start, _ = uow.statistics.position()
            return start, uow.audit.after(start, limit=batch)

        start, entries = await self._storage.read(read)
        if not entries:
            return 0
        counts = fold((entry.kind, entry.payload) for entry in entries)
        now = self._clock.now()

        def add(uow: UnitOfWork) -> int:
            if uow.statistics.lock_position() != start:
                return 0
            uow.statistics.add(counts, folded_seq=entries[-1].seq, at=now)
            return len(entries)

        return await self._storage.transact(add)

    async def election(self, election_id: str) -> ElectionStatistics:
        reference = await self._reference.current()
        if election_id not in reference.elections:
            raise NotFound(ErrorCode.ELECTION_NOT_FOUND)
        cached = self._cache.get(election_id)
        if cached is not None and self._monotonic() < cached[0]:
            return cached[1]
        await self.fold()
        now = self._clock.now()

        def read(uow: UnitOfWork) -> ElectionStatistics:
            folded_seq, folded_at = uow.statistics.position()
            decisions = sorted(uow.statistics.decisions(election_id))
            entries = sorted(uow.statistics.entries_in_force(election_id, now=now))
            return ElectionStatistics(
                election_id=election_id,
                decisions=tuple(_decision_cell(key, n) for key, n in decisions),
                list_entries=tuple(_entry_cell(key, n) for key, n in entries),
                folded_seq=folded_seq,
                folded_at=folded_at,
                computed_at=now,
            )

        answer = await self._storage.read(read)
        self._cache[election_id] = (self._monotonic() + CACHE_SECONDS, answer)
        return answer
