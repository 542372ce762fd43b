"""Deciding one chunk: fetch in batches, decide by law, render audit entries, write list rows.

Runs in the worker processes (or in the main process with ``workers=0``). Everything that
can be done away from the chain's single writer is done here: the pseudonym, the decision,
the audit entry's canonical body for the seq it will take, and the chunk's part file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from service.adapters.batch import ADDRESSES, REGISTRY, BatchAddressClient, BatchRegistryClient
from service.adapters.resilience import RetryPolicy, UpstreamGuard
from service.adapters.upstream import build_upstream_client
from service.audit.chain import format_instant
from service.audit.pseudonym import PSEUDONYM_PREFIX
from service.domain.decision import decide
from service.domain.model import (
    Basis,
    Decision,
    Outcome,
    Person,
    Registration,
    RegistrationKind,
)
from service.domain.precincts import PrecinctDirectory
from service.roll.model import (
    DECISION_KIND,
    ChunkCounts,
    ChunkResult,
    ChunkTask,
    DeciderSetup,
)
from service.roll.parts import UNASSIGNED, ListRow, write_part
from service.usecases.eligibility import decision_payload as check_payload
from service.usecases.ports import NO_STANDING

_SORTED = orjson.OPT_SORT_KEYS
RENDER_CACHE_SIZE = 100_000


def render_body(payload_json: str, *, recorded_at: str, seq: int, subject: str) -> str:
    """A roll decision's canonical audit body (``service.audit.chain.canonical_body``).

    The keys in sorted order (kind, payload, recorded_at, seq, subject) around the payload's
    canonical JSON: codes, ids, ISO times and hex, nothing JSON would escape. Rendered by
    hand because ``json.dumps`` per entry is a core's worth of work at twelve million; a
    property test holds the two to the same bytes.
    """
    return (
        f'{{"kind":"{DECISION_KIND}","payload":{payload_json},"recorded_at":"{recorded_at}",'
        f'"seq":{seq},"subject":"{subject}"}}'
    )


def decision_payload(decision: Decision, *, run_id: str, election_id: str) -> dict[str, Any]:
    """What the audit log keeps of a roll decision: a check's codes and ids, plus the run."""
    return {"run_id": run_id, "election_id": election_id, **check_payload(decision)}


_PLACED_BY = {
    Basis.PERMANENT_REGISTRATION: (RegistrationKind.PERMANENT,),
    Basis.TEMPORARY_REGISTRATION: (RegistrationKind.TEMPORARY,),
    Basis.CONSULAR_REGISTRATION: (RegistrationKind.CONSULAR,),
}
_ANY_KIND = (RegistrationKind.PERMANENT, RegistrationKind.TEMPORARY, RegistrationKind.CONSULAR)


def _listed_address(
    registrations: Sequence[Registration], decision: Decision, voting_day: dt.date
) -> Registration | None:
    """The registration whose address the list shows: the one that placed the voter, else
    (override, day registration, unassigned) the best one held, if any."""
    kinds = _PLACED_BY.get(decision.basis, _ANY_KIND) if decision.basis else _ANY_KIND
    valid = [r for r in registrations if r.is_valid_on(voting_day)]
    for kind in kinds:
        held = [r for r in valid if r.kind is kind]
        if held:
            # The decision's own tie-break (service.domain.decision._latest).
            return max(held, key=lambda r: (r.valid_from, r.rca or "", r.street or ""))
    return None


def list_row(
    person: Person, registrations: Sequence[Registration], decision: Decision, voting_day: dt.date
) -> ListRow:
    """One line of a precinct list: who, born when, registered where, on what basis."""
    address = _listed_address(registrations, decision, voting_day)
    last = (
        decision.basis.value
        if decision.precinct_id is not None and decision.basis is not None
        else ",".join(step.code.value for step in decision.next_steps)
    )
    return (
        person.iin,
        person.surname,
        person.given_name,
        person.patronymic or "",
        person.birth_date.isoformat(),
        (address.kato or "") if address else "",
        (address.street or "") if address else "",
        (address.house or "") if address else "",
        (address.flat or "") if address else "",
        address.country if address else "",
        (address.city or "") if address else "",
        last,
    )


class ChunkDecider:
    """Decides chunks against both upstreams; one per worker process."""

    def __init__(
        self,
        setup: DeciderSetup,
        *,
        registry: BatchRegistryClient,
        addresses: BatchAddressClient,
    ) -> None:
        self._setup = setup
        self._registry = registry
        self._addresses = addresses
        self._directory = PrecinctDirectory(setup.precincts)
        self._limit = asyncio.Semaphore(setup.concurrency)
        self._pseudonyms = Pseudonyms(setup.hmac_key)
        self._rendered: dict[Decision, str] = {}

    async def _batch(
        self, iins: list[str]
    ) -> tuple[list[Person | None], list[tuple[Registration, ...]]]:
        async with self._limit:
            persons, registrations = await asyncio.gather(
                self._registry.lookup_many(iins), self._addresses.registrations_many(iins)
            )
        return persons, registrations

    async def fetch(
        self, iins: list[str]
    ) -> tuple[list[Person | None], list[tuple[Registration, ...]]]:
        """Both upstreams' answers for ``iins``, in order; the first fault is raised."""
        size = self._setup.batch_size
        batches = [iins[i : i + size] for i in range(0, len(iins), size)]
        tasks = [asyncio.ensure_future(self._batch(batch)) for batch in batches]
        try:
            answers = await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        persons = [p for answer in answers for p in answer[0]]
        registrations = [r for answer in answers for r in answer[1]]
        return persons, registrations

    def _payload_json(self, decision: Decision) -> str:
        """The decision's audit payload as canonical JSON, rendered once per distinct decision.

        Most voters share their decision with thousands of others (same precinct, basis,
        rule set and registry time), so the payload is rendered once and reused.
        """
        rendered = self._rendered.get(decision)
        if rendered is None:
            payload = decision_payload(
                decision, run_id=self._setup.run_id, election_id=self._setup.election.id
            )
            rendered = orjson.dumps(payload, option=_SORTED).decode()
            if len(self._rendered) >= RENDER_CACHE_SIZE:
                self._rendered.clear()
            self._rendered[decision] = rendered
        return rendered

    async def decide_chunk(self, task: ChunkTask, *, now: dt.datetime) -> ChunkResult:
        setup = self._setup
        election = setup.election
        voting_day = election.voting_day
        directory = self._directory
        persons, registrations = await self.fetch(task.iins)
        recorded_at = format_instant(now)
        standings = setup.standing
        pseudonym = self._pseudonyms.of
        # Decision -> [payload JSON, how many]: counted per distinct decision, not per voter.
        shapes: dict[Decision, list[Any]] = {}
        subjects: list[str] = []
        bodies: list[str] = []
        rows: list[tuple[str, ListRow]] = []
        seq = task.first_seq
        for iin, person, held in zip(task.iins, persons, registrations, strict=True):
            subject = pseudonym(iin)
            standing = standings.get(subject, NO_STANDING)
            decision = decide(
                person,
                held,
                election=election,
                directory=directory,
                override=standing.override,
                day_registration=standing.day_registration,
                list_entry=standing.list_entry,
            )
            shape = shapes.get(decision)
            if shape is None:
                shape = shapes[decision] = [self._payload_json(decision), 0]
            shape[1] += 1
            subjects.append(subject)
            bodies.append(render_body(shape[0], recorded_at=recorded_at, seq=seq, subject=subject))
            seq += 1
            if (
                person is not None
                and decision.outcome is Outcome.ELIGIBLE
                and not _holds_unused_certificate(decision)
            ):
                key = decision.precinct_id or UNASSIGNED
                rows.append((key, list_row(person, held, decision, voting_day)))
        digest = write_part(setup.parts_dir, task.chunk_no, rows)
        return ChunkResult(
            chunk_no=task.chunk_no,
            cursor=task.cursor,
            first_seq=task.first_seq,
            recorded_at=now,
            subjects=subjects,
            bodies=bodies,
            counts=_counts(shapes).as_json(),
            part_sha256=digest,
        )


def _holds_unused_certificate(decision: Decision) -> bool:
    """An absentee certificate holder who has not presented it: on no precinct's list, and
    not among the unassigned either (nothing is missing: they vote with it)."""
    return decision.basis is Basis.ABSENTEE_CERTIFICATE and decision.precinct_id is None


def _counts(shapes: dict[Decision, list[Any]]) -> ChunkCounts:
    counts = ChunkCounts()
    for decision, (_, voters) in shapes.items():
        counts.outcomes[decision.outcome.value] += voters
        for reason in decision.reasons:
            counts.reasons[reason.value] += voters
        for step in decision.next_steps:
            counts.next_steps[step.code.value] += voters
        if decision.basis is not None and (
            decision.precinct_id is not None or _holds_unused_certificate(decision)
        ):
            # The basis of each voter on a precinct's list (SPEC §15: the way onto it), and
            # of the certificate holders, who are on none until they present it.
            counts.basis[decision.basis.value] += voters
    return counts


class Pseudonyms:
    """``service.audit.pseudonym.pseudonymise`` at a third of the cost, for millions of IINs.

    HMAC-SHA256 (RFC 2104) with the key's inner and outer pads hashed once: each IIN then
    costs two copies of a hash state. A property test holds it to ``pseudonymise``.
    """

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the pseudonym key must not be empty")
        block = hashlib.sha256().block_size
        if len(key) > block:
            key = hashlib.sha256(key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def of(self, iin: str) -> str:
        inner = self._inner.copy()
        inner.update(iin.encode("ascii"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return PSEUDONYM_PREFIX + outer.hexdigest()


# --- worker processes ----------------------------------------------------------------------

_worker: tuple[asyncio.AbstractEventLoop, ChunkDecider] | None = None


def compiler_guard(upstream: str, *, attempts: int, backoff_seconds: float) -> UpstreamGuard:
    """Retries only: the compiler bounds its own calls in flight, and an upstream that stays
    down stops it (to be resumed) rather than opening a breaker."""
    return UpstreamGuard(
        upstream,
        retry=RetryPolicy.doubling(attempts=attempts, first_wait_seconds=backoff_seconds),
    )


def batch_clients(
    setup: DeciderSetup, *, registry: httpx.AsyncClient, addresses: httpx.AsyncClient
) -> tuple[BatchRegistryClient, BatchAddressClient]:
    def guard(upstream: str) -> UpstreamGuard:
        return compiler_guard(
            upstream, attempts=setup.attempts, backoff_seconds=setup.backoff_seconds
        )

    return (
        BatchRegistryClient(
            registry, deadline_seconds=setup.deadline_seconds, guard=guard(REGISTRY)
        ),
        BatchAddressClient(
            addresses, deadline_seconds=setup.deadline_seconds, guard=guard(ADDRESSES)
        ),
    )


def _clients(setup: DeciderSetup) -> tuple[BatchRegistryClient, BatchAddressClient]:
    timeout = httpx.Timeout(setup.deadline_seconds)
    return batch_clients(
        setup,
        registry=build_upstream_client(
            setup.registry_url, timeout=timeout, max_connections=setup.concurrency * 2
        ),
        addresses=build_upstream_client(
            setup.addresses_url, timeout=timeout, max_connections=setup.concurrency * 2
        ),
    )


def start_worker(setup: DeciderSetup) -> None:
    """Process-pool initializer: one event loop and one pair of clients per worker."""
    global _worker
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def build() -> ChunkDecider:
        registry, addresses = _clients(setup)
        return ChunkDecider(setup, registry=registry, addresses=addresses)

    _worker = (loop, loop.run_until_complete(build()))


def decide_in_worker(task: ChunkTask, now: dt.datetime) -> ChunkResult:
    assert _worker is not None, "start_worker did not run in this process"
    loop, decider = _worker
    return loop.run_until_complete(decider.decide_chunk(task, now=now))
