"""``voterctl roll compile``: every person of the registry decided once, lists per precinct.

The main process lists the registry's IINs a chunk at a time, hands chunks to worker
processes, and commits their results strictly in order: a chunk's audit entries and its
progress row in one transaction. A resumed run starts after the last committed chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import multiprocessing
import os
import shutil
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
from sqlmodel import Session

from service.adapters.batch import REGISTRY, BatchRegistryClient
from service.adapters.pipeline import Transports
from service.adapters.upstream import build_upstream_client
from service.audit.log import NewEntry
from service.clock import Clock
from service.db import repository
from service.db.engine import Database, read_session, write_session
from service.db.reference import load_reference
from service.db.tables import RollChunkRow, RollRunRow
from service.domain.model import Election
from service.domain.rules import ruleset_for
from service.errors import UpstreamUnavailable
from service.roll.chain_writer import RollAuditLog
from service.roll.decider import (
    ChunkDecider,
    batch_clients,
    compiler_guard,
    decide_in_worker,
    start_worker,
)
from service.roll.model import (
    COMPLETE_KIND,
    DECISION_KIND,
    START_KIND,
    ChunkCounts,
    ChunkResult,
    ChunkTask,
    DeciderSetup,
    ListFormat,
    RunStatus,
)
from service.roll.parts import (
    PRECINCTS_DIR,
    UNASSIGNED,
    assemble_csv,
    convert_to_parquet,
    list_name,
    publish,
    write_durably,
)

SUMMARY_NAME = "summary.json"
SUMMARY_FORMAT = "voter-roll-summary/1"
PARTS_DIR = ".parts"
STAGING_DIR = ".staging"
LOCK_NAME = ".roll.lock"


class RollRefused(Exception):
    """The compile cannot start or go on as asked; the message says why and what to do."""


class RollStopped(Exception):
    """An upstream failed past its retries: committed chunks stand, rerun to resume."""

    def __init__(self, *, upstream: str, failure: str, committed: int, total: int) -> None:
        super().__init__(
            f"{upstream} unavailable ({failure}) after retries; {committed} of {total} persons "
            "are decided and committed; run the same command again to resume"
        )
        self.upstream = upstream
        self.failure = failure


class _ChunkFailed(Exception):
    """An upstream fault in a worker, in a form that crosses process boundaries."""

    def __init__(self, upstream: str, failure: str) -> None:
        super().__init__(upstream, failure)
        self.upstream = upstream
        self.failure = failure


def _decide_in_worker(task: ChunkTask, now: dt.datetime) -> ChunkResult:
    try:
        return decide_in_worker(task, now)
    except UpstreamUnavailable as exc:
        raise _ChunkFailed(exc.upstream, str(exc.failure)) from None


class Progress(Protocol):
    def begin(self, *, total: int, done: int) -> None: ...
    def advance(self, persons: int) -> None: ...
    def stage(self, text: str) -> None: ...
    def end(self) -> None: ...


class _Silent:
    def begin(self, *, total: int, done: int) -> None:
        pass

    def advance(self, persons: int) -> None:
        pass

    def stage(self, text: str) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass(frozen=True)
class RollOptions:
    election_id: str
    out_dir: Path
    registry_url: str
    addresses_url: str
    list_format: ListFormat = ListFormat.CSV
    chunk_size: int = 20_000
    workers: int = 2
    batch_size: int = 1000
    concurrency: int = 4
    deadline_seconds: float = 30.0
    attempts: int = 4
    backoff_seconds: float = 0.5

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 1000:
            raise ValueError("batch_size must be between 1 and 1000")
        if not 1 <= self.chunk_size <= 100_000:
            raise ValueError("chunk_size must be between 1 and 100000")
        if self.workers < 0 or self.concurrency < 1:
            raise ValueError("workers must be >= 0 and concurrency >= 1")


@dataclass(frozen=True)
class RollReport:
    run_id: str
    resumed: bool
    persons: int
    decided_now: int
    chunks: int
    summary_path: Path
    summary: dict[str, Any] = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Run:
    row: RollRunRow
    resumed: bool
    next_chunk: int
    cursor: str | None
    exhausted: bool
    persons_done: int


def _new_run_id() -> str:
    return str(uuid.uuid4())


@contextmanager
def _exclusive(out_dir: Path) -> Iterator[None]:
    """One compile per output directory at a time (a second would duplicate entries)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise RollRefused(f"--out {out_dir} is not a directory") from None
    except OSError as exc:
        raise RollRefused(f"--out {out_dir} cannot be made: {exc.strerror}") from None
    os.chmod(out_dir, 0o700)  # the lists are personal data
    with (out_dir / LOCK_NAME).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RollRefused(f"another compile is writing to {out_dir}") from None
        yield


class RollCompiler:
    def __init__(
        self,
        options: RollOptions,
        *,
        database: Database,
        audit_log: RollAuditLog,
        hmac_key: bytes,
        clock: Clock,
        progress: Progress | None = None,
        transports: Transports | None = None,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        if transports is not None and options.workers > 0:
            raise ValueError("injected transports need workers=0")
        self._options = options
        self._database = database
        self._audit_log = audit_log
        self._hmac_key = hmac_key
        self._clock = clock
        self._progress = progress or _Silent()
        self._transports = transports or Transports()
        self._on_commit = on_commit
        self._out_dir = options.out_dir.resolve()
        # Where the main process's time goes: listing, waiting for workers, committing.
        self._timings: dict[str, float] = {"list": 0.0, "wait": 0.0, "commit": 0.0}

    # --- the run -------------------------------------------------------------------------

    def run(self) -> RollReport:
        with _exclusive(self._out_dir):
            return asyncio.run(self._run())

    def _client(self, url: str, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        return build_upstream_client(
            url,
            timeout=httpx.Timeout(self._options.deadline_seconds),
            max_connections=self._options.concurrency * 2,
            transport=transport,
        )

    async def _run(self) -> RollReport:
        options = self._options
        election = self._election()
        async with self._client(options.registry_url, self._transports.registry) as http:
            lister = BatchRegistryClient(
                http,
                deadline_seconds=options.deadline_seconds,
                guard=compiler_guard(
                    REGISTRY, attempts=options.attempts, backoff_seconds=options.backoff_seconds
                ),
            )
            try:
                first = await lister.iins_page(None, 1)
            except UpstreamUnavailable as exc:
                raise RollStopped(
                    upstream=exc.upstream, failure=str(exc.failure), committed=0, total=0
                ) from exc
            run = self._begin(election, snapshot=first.snapshot)
            total = first.total
            self._progress.begin(total=total, done=run.persons_done)
            decided_now = 0
            if not run.exhausted:
                decided_now = await self._decide_all(run, election, lister, total=total)
        self._progress.stage("assembling the lists")
        started = time.perf_counter()
        summary = self._finish(run, election)
        self._timings["assemble"] = time.perf_counter() - started
        self._progress.end()
        return RollReport(
            run_id=run.row.id,
            resumed=run.resumed,
            persons=summary["persons"],
            decided_now=decided_now,
            chunks=summary["chunks"],
            summary_path=self._out_dir / SUMMARY_NAME,
            summary=summary,
            timings=dict(self._timings),
        )

    def _election(self) -> Election:
        election = load_reference(self._database).elections.get(self._options.election_id)
        if election is None:
            raise RollRefused(f"no election {self._options.election_id!r}: import it first")
        if not election.kind.is_by_citizens:
            raise RollRefused(
                f"election {election.id!r} is a {election.kind.value} election: citizens do "
                "not vote in it, so it has no voter lists"
            )
        return election

    def _begin(self, election: Election, *, snapshot: str) -> _Run:
        """Resume the election's unfinished run, or start a new one (audited)."""
        options = self._options
        now = self._clock.now()
        with write_session(self._database) as session:
            row = repository.roll_run_in_status(
                session, election_id=election.id, status=RunStatus.RUNNING.value
            )
            if row is not None:
                return self._resume(session, row, snapshot=snapshot)
            if (self._out_dir / SUMMARY_NAME).exists():
                raise RollRefused(
                    f"{self._out_dir} already holds a compiled roll; choose another --out"
                )
            run_id = _new_run_id()
            receipt = self._audit_log.append(
                session,
                kind=START_KIND,
                subject=None,
                payload={
                    "run_id": run_id,
                    "election_id": election.id,
                    "ruleset": ruleset_for(election.voting_day).version,
                    "format": options.list_format.value,
                    "chunk_size": options.chunk_size,
                    "registry_snapshot": snapshot,
                },
                recorded_at=now,
            )
            row = RollRunRow(
                id=run_id,
                election_id=election.id,
                out_dir=str(self._out_dir),
                format=options.list_format.value,
                chunk_size=options.chunk_size,
                snapshot=snapshot,
                status=RunStatus.RUNNING.value,
                started_at=now,
                audit_seq=receipt.seq,
            )
            repository.add_roll_row(session, row)
            session.expunge(row)  # read after the commit, which would expire it
            return _Run(row, False, 0, None, False, 0)

    def _resume(self, session: Session, row: RollRunRow, *, snapshot: str) -> _Run:
        options = self._options
        if row.out_dir != str(self._out_dir):
            raise RollRefused(
                f"run {row.id} of {row.election_id} is unfinished and writes to {row.out_dir}: "
                "rerun with that --out to resume it"
            )
        if row.format != options.list_format.value or row.chunk_size != options.chunk_size:
            raise RollRefused(
                f"run {row.id} was started with --format {row.format} --chunk-size "
                f"{row.chunk_size}: resume it with the same"
            )
        if row.snapshot != snapshot:
            raise RollRefused(
                f"the registry's data changed since run {row.id} began (snapshot "
                f"{row.snapshot[:12]} is now {snapshot[:12]}); its chunks no longer line up"
            )
        last = repository.last_roll_chunk(session, row.id)
        done = repository.roll_persons_done(session, row.id)
        session.expunge(row)
        if last is None:
            return _Run(row, True, 0, None, False, 0)
        return _Run(row, True, last.chunk_no + 1, last.cursor, last.cursor is None, done)

    # --- deciding, in order ---------------------------------------------------------------

    def _setup(self, run: _Run, election: Election) -> DeciderSetup:
        options = self._options
        with read_session(self._database) as session:
            standing = repository.election_standings(
                session.connection(), election_id=election.id, now=self._clock.now()
            )
        reference = load_reference(self._database)
        return DeciderSetup(
            run_id=run.row.id,
            election=election,
            precincts=reference.directory.all(),
            standing=standing,
            hmac_key=self._hmac_key,
            parts_dir=self._parts_dir(run),
            registry_url=options.registry_url,
            addresses_url=options.addresses_url,
            deadline_seconds=options.deadline_seconds,
            attempts=options.attempts,
            backoff_seconds=options.backoff_seconds,
            batch_size=options.batch_size,
            concurrency=options.concurrency,
        )

    def _parts_dir(self, run: _Run) -> Path:
        return self._out_dir / PARTS_DIR / run.row.id

    async def _decide_all(
        self, run: _Run, election: Election, lister: BatchRegistryClient, *, total: int
    ) -> int:
        options = self._options
        setup = self._setup(run, election)
        loop = asyncio.get_running_loop()
        with read_session(self._database) as session:
            next_seq = self._audit_log.chain_length(session) + 1
        pool: ProcessPoolExecutor | None = None
        decider: ChunkDecider | None = None
        local: list[httpx.AsyncClient] = []
        if options.workers > 0:
            pool = ProcessPoolExecutor(
                max_workers=options.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=start_worker,
                initargs=(setup,),
            )
        else:
            local = [
                self._client(options.registry_url, self._transports.registry),
                self._client(options.addresses_url, self._transports.addresses),
            ]
            registry, addresses = batch_clients(setup, registry=local[0], addresses=local[1])
            decider = ChunkDecider(setup, registry=registry, addresses=addresses)

        def submit(task: ChunkTask) -> Awaitable[ChunkResult]:
            if pool is not None:
                return loop.run_in_executor(pool, _decide_in_worker, task, self._clock.now())
            assert decider is not None
            return asyncio.ensure_future(decider.decide_chunk(task, now=self._clock.now()))

        # Chunks handed out and not yet committed, in order. The dispatcher keeps it topped
        # up while the committer works through it, so listing, deciding and committing
        # overlap; its bound is what holds memory flat.
        inflight: deque[tuple[ChunkTask, Awaitable[ChunkResult]]] = deque()
        room = asyncio.Semaphore(max(1, options.workers) + 2)
        arrived = asyncio.Event()
        chunk_no, cursor, exhausted = run.next_chunk, run.cursor, run.exhausted
        committed_persons = run.persons_done
        decided_now = 0

        async def dispatch() -> None:
            nonlocal chunk_no, cursor, exhausted, next_seq
            while not exhausted:
                await room.acquire()
                started = time.perf_counter()
                page = await lister.iins_page(cursor, options.chunk_size)
                self._timings["list"] += time.perf_counter() - started
                if page.snapshot != run.row.snapshot:
                    raise RollRefused("the registry's data changed during the run")
                exhausted = page.cursor is None
                if not page.iins:
                    break
                task = ChunkTask(chunk_no, page.iins, page.cursor, next_seq)
                inflight.append((task, submit(task)))
                arrived.set()
                chunk_no, cursor = chunk_no + 1, page.cursor
                next_seq += len(page.iins)
            exhausted = True
            arrived.set()

        async def commit_in_order() -> None:
            nonlocal committed_persons, decided_now, next_seq
            while True:
                if not inflight:
                    if exhausted:
                        return
                    arrived.clear()
                    await arrived.wait()
                    continue
                task, pending = inflight[0]
                started = time.perf_counter()
                result = await pending
                waited = time.perf_counter()
                last_seq = await asyncio.to_thread(self._commit, run, result)
                self._timings["wait"] += waited - started
                self._timings["commit"] += time.perf_counter() - waited
                inflight.popleft()
                room.release()
                if last_seq != task.first_seq + len(task.iins) - 1:
                    # Someone else appended meanwhile: later chunks' seqs move along.
                    next_seq = last_seq + 1 + sum(len(t.iins) for t, _ in inflight)
                committed_persons += result.persons
                decided_now += result.persons
                self._progress.advance(result.persons)
                if self._on_commit is not None:
                    self._on_commit(result.chunk_no)

        stages = [asyncio.ensure_future(dispatch()), asyncio.ensure_future(commit_in_order())]
        try:
            done, _ = await asyncio.wait(stages, return_when=asyncio.FIRST_EXCEPTION)
            for stage in done:
                stage.result()  # the first failure, if any
            await asyncio.gather(*stages)
        except (UpstreamUnavailable, _ChunkFailed) as exc:
            raise RollStopped(
                upstream=exc.upstream,
                failure=str(exc.failure),
                committed=committed_persons,
                total=total,
            ) from exc
        finally:
            for stage in stages:
                stage.cancel()
            await asyncio.gather(*stages, return_exceptions=True)
            for _, pending in inflight:
                if isinstance(pending, asyncio.Future):
                    pending.cancel()
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            for client in local:
                await client.aclose()
        return decided_now

    def _commit(self, run: _Run, result: ChunkResult) -> int:
        """The chunk's audit entries and its progress row, in one transaction; the last seq."""
        with write_session(self._database) as session:
            if session.get_bind().dialect.name == "postgresql":
                # No wait for the WAL flush at each chunk: a crash can lose the last chunks'
                # commits whole (never part of one), and the resume redoes them. The run's
                # completion commits synchronously, and so does anyone appending after us,
                # which flushes our entries first: the chain never has a hole.
                session.connection().exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            appended = self._audit_log.append_rendered(
                session,
                first_seq=result.first_seq,
                kind=DECISION_KIND,
                recorded_at=result.recorded_at,
                subjects=result.subjects,
                bodies=result.bodies,
            )
            if appended is not None:
                first_seq, last_seq = appended.first_seq, appended.last_seq
            else:
                receipts = self._audit_log.append_many(
                    session,
                    [
                        NewEntry(
                            kind=DECISION_KIND,
                            subject=subject,
                            payload=orjson.loads(body)["payload"],
                            recorded_at=result.recorded_at,
                        )
                        for subject, body in zip(result.subjects, result.bodies, strict=True)
                    ],
                )
                first_seq, last_seq = receipts[0].seq, receipts[-1].seq
            repository.add_roll_row(
                session,
                RollChunkRow(
                    run_id=run.row.id,
                    chunk_no=result.chunk_no,
                    cursor=result.cursor,
                    persons=result.persons,
                    first_seq=first_seq,
                    last_seq=last_seq,
                    part_sha256=result.part_sha256,
                    counts=orjson.dumps(result.counts).decode(),
                    committed_at=self._clock.now(),
                ),
            )
        return last_seq

    # --- the lists ------------------------------------------------------------------------

    def _finish(self, run: _Run, election: Election) -> dict[str, Any]:
        """Assemble the lists from the committed parts, write the summary, mark complete."""
        options = self._options
        with read_session(self._database) as session:
            chunks = repository.roll_chunks(session, run.row.id)
        directory = load_reference(self._database).directory
        precincts = directory.all()
        keys = [p.id for p in precincts] + [UNASSIGNED]
        staging = self._out_dir / STAGING_DIR
        if staging.exists():
            shutil.rmtree(staging)
        counts = assemble_csv(
            staging=staging,
            parts_dir=self._parts_dir(run),
            parts=[(c.chunk_no, c.part_sha256) for c in chunks],
            keys=keys,
        )
        if options.list_format is ListFormat.PARQUET:
            convert_to_parquet(staging, keys)
        publish(staging, self._out_dir, options.list_format)
        totals = ChunkCounts()
        for chunk in chunks:
            totals.add(orjson.loads(chunk.counts))
        persons = sum(c.persons for c in chunks)
        now = self._clock.now()
        summary: dict[str, Any] = {
            "format": SUMMARY_FORMAT,
            "run_id": run.row.id,
            "election_id": election.id,
            "voting_day": election.voting_day.isoformat(),
            "ruleset": ruleset_for(election.voting_day).version,
            "registry_snapshot": run.row.snapshot,
            "list_format": options.list_format.value,
            "started_at": run.row.started_at.isoformat(),
            "completed_at": now.isoformat(),
            "persons": persons,
            "chunks": len(chunks),
            **totals.as_json(),
            "listed": sum(n for key, n in counts.items() if key != UNASSIGNED),
            "unassigned": counts[UNASSIGNED],
            "audit": {
                "first_seq": chunks[0].first_seq if chunks else None,
                "last_seq": chunks[-1].last_seq if chunks else None,
                "decision_entries": persons,
            },
            "lists": {
                "unassigned": list_name(UNASSIGNED, options.list_format),
                "precincts_dir": PRECINCTS_DIR,
            },
            "precincts": [
                {
                    "id": p.id,
                    "number": p.number,
                    "name": p.name,
                    "kind": p.kind.value,
                    "voters": counts[p.id],
                    "file": list_name(p.id, options.list_format),
                }
                for p in precincts
            ],
        }
        write_durably(
            self._out_dir / SUMMARY_NAME, orjson.dumps(summary, option=orjson.OPT_INDENT_2)
        )
        with write_session(self._database) as session:
            row = repository.get_roll_run(session, run.row.id)
            assert row is not None
            self._audit_log.append(
                session,
                kind=COMPLETE_KIND,
                subject=None,
                payload={
                    "run_id": row.id,
                    "election_id": election.id,
                    "persons": persons,
                    "listed": summary["listed"],
                    "unassigned": summary["unassigned"],
                    "outcomes": summary["outcomes"],
                },
                recorded_at=now,
            )
            row.status = RunStatus.COMPLETE.value
            row.completed_at = now
            session.add(row)
            self._audit_log.checkpoint_if_due(session)
        shutil.rmtree(self._parts_dir(run), ignore_errors=True)
        with contextlib.suppress(OSError):  # only if no other run's parts are left in it
            (self._out_dir / PARTS_DIR).rmdir()
        return summary
