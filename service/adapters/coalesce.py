"""Concurrent single lookups sent upstream as batch calls.

Every check needs one registry and one address lookup. Sent one by one, each costs a whole
HTTP exchange in this process and in the upstream; under load most of a check's CPU goes
there (bench/). So lookups made in the same turn of the event loop leave together as one
``lookup-batch`` call, and while ``max_in_flight`` batches are out, new lookups wait and leave
together in the next: at low load a lookup leaves at once, alone; under load batches grow by
themselves and the per-check cost shrinks.

A failed batch fails each of its lookups with its own ``UpstreamUnavailable`` (each check
audits its own undetermined decision and attaches its own receipt to that error). Retries,
the circuit breaker and the bulkhead apply per batch call (the batch clients' guard).

A lookup is a plain future (``submit``), not a task: the eligibility check awaits both of its
lookups without a task, a coroutine chain and a timeout scope for each (bench/hot_path.py).
Each lookup is reported to the observer (metrics) where its future is settled, so no done
callback is added per lookup; a lookup its caller cancelled is not reported.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from service.adapters.batch import ADDRESSES, REGISTRY, BatchAddressClient, BatchRegistryClient
from service.adapters.upstream import UNOBSERVED, UPSTREAM_OK, UpstreamObserver
from service.domain.model import Person, Registration
from service.errors import UpstreamFailure, UpstreamUnavailable

V = TypeVar("V")

DEFAULT_MAX_IN_FLIGHT = 4
DEFAULT_MAX_BATCH = 1000


class Coalescer(Generic[V]):
    """Answers ``get(key)`` by ``fetch_many(keys)`` calls shared with concurrent callers."""

    def __init__(
        self,
        fetch_many: Callable[[Sequence[str]], Awaitable[Sequence[V]]],
        *,
        upstream: str,
        deadline_seconds: float,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_batch: int = DEFAULT_MAX_BATCH,
        observer: UpstreamObserver = UNOBSERVED,
    ) -> None:
        if max_in_flight < 1 or max_batch < 1 or not deadline_seconds > 0:
            raise ValueError("max_in_flight, max_batch and deadline_seconds must be positive")
        self._fetch_many = fetch_many
        self._upstream = upstream
        self._deadline_seconds = deadline_seconds
        self._max_in_flight = max_in_flight
        self._max_batch = max_batch
        self._observer = observer
        # Each lookup is one (deadline, future) pair, kept both under its key and in the
        # deadline queue: its start, for the observer, is its deadline less the one deadline.
        self._waiting: dict[str, list[tuple[float, asyncio.Future[V]]]] = {}
        # Every caller's future with its deadline, oldest first (one deadline for all, so also
        # soonest first), and one timer for the soonest: a timer per lookup costs more.
        self._deadlines: deque[tuple[float, asyncio.Future[V]]] = deque()
        self._expiry: asyncio.TimerHandle | None = None
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0

    async def get(self, key: str) -> V:
        """The value for ``key``; ``UpstreamUnavailable`` if its batch failed or ran late."""
        return await self.submit(key)

    def submit(self, key: str) -> asyncio.Future[V]:
        """A future of the value for ``key``, failed with ``UpstreamUnavailable`` if its batch
        failed or ran late. Cancelling it abandons the lookup; it is not sent if not yet out.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V] = loop.create_future()
        # The batch call has this deadline too; this one also bounds the wait for a slot.
        lookup = (loop.time() + self._deadline_seconds, future)
        self._deadlines.append(lookup)
        if self._expiry is None:
            self._expiry = loop.call_at(lookup[0], self._expire_due)
        waiting = self._waiting.get(key)
        if waiting is None:
            self._waiting[key] = [lookup]
        else:
            waiting.append(lookup)
        if not self._scheduled and self._in_flight < self._max_in_flight:
            self._schedule(loop)
        return future

    def _report(self, result: str, deadline_at: float, now: float) -> None:
        self._observer.observe_upstream(
            upstream=self._upstream,
            result=result,
            seconds=now - deadline_at + self._deadline_seconds,
        )

    def _expire_due(self) -> None:
        self._expiry = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadlines = self._deadlines
        while deadlines:
            deadline_at, future = deadlines[0]
            if not future.done():
                if deadline_at > now:
                    self._expiry = loop.call_at(deadline_at, self._expire_due)
                    return
                fault = UpstreamUnavailable(
                    upstream=self._upstream, failure=UpstreamFailure.TIMEOUT
                )
                fault.__cause__ = TimeoutError()
                future.set_exception(fault)
                self._report(UpstreamFailure.TIMEOUT, deadline_at, now)
            deadlines.popleft()

    def _forget_done(self) -> None:
        # Answered lookups leave the deadline queue from its front; the timer, if one is set,
        # finds a later front when it fires and moves itself there.
        deadlines = self._deadlines
        while deadlines and deadlines[0][1].done():
            deadlines.popleft()

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        # Once per loop turn: every lookup made during this turn joins the same batch.
        if not self._scheduled and self._in_flight < self._max_in_flight:
            self._scheduled = True
            loop.call_soon(self._send_next)

    def _send_next(self) -> None:
        self._scheduled = False
        self._drop_abandoned()
        if not self._waiting or self._in_flight >= self._max_in_flight:
            return
        keys = list(itertools.islice(self._waiting, self._max_batch))
        batch = {key: self._waiting.pop(key) for key in keys}
        self._in_flight += 1
        self.batches += 1
        task = asyncio.get_running_loop().create_task(self._send(keys, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self._waiting:  # more than one batch's worth queued
            self._schedule(asyncio.get_running_loop())

    def _drop_abandoned(self) -> None:
        # Lookups whose callers gave up (a cancelled check) are not sent.
        abandoned = [
            key
            for key, lookups in self._waiting.items()
            if all(future.done() for _, future in lookups)
        ]
        for key in abandoned:
            del self._waiting[key]

    async def _send(
        self, keys: list[str], batch: dict[str, list[tuple[float, asyncio.Future[V]]]]
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            values = await self._fetch_many(keys)
        except UpstreamUnavailable as exc:
            now = loop.time()
            failure = str(exc.failure)
            for lookups in batch.values():
                for deadline_at, future in lookups:
                    if not future.done():
                        future.set_exception(_own_copy(exc))
                        self._report(failure, deadline_at, now)
        except Exception as exc:  # noqa: BLE001 - handed to every caller, who re-raises it
            # Not an upstream's fault but ours: not counted against the upstream.
            for lookups in batch.values():
                for _, future in lookups:
                    if not future.done():
                        future.set_exception(exc)
        else:
            now = loop.time()
            for key, value in zip(keys, values, strict=True):
                for deadline_at, future in batch[key]:
                    if not future.done():
                        future.set_result(value)
                        self._report(UPSTREAM_OK, deadline_at, now)
        finally:
            self._in_flight -= 1
            self._forget_done()
            if self._waiting:
                self._schedule(loop)


def _own_copy(exc: UpstreamUnavailable) -> UpstreamUnavailable:
    """One error per caller: each attaches its own audit receipt to it."""
    copy = UpstreamUnavailable(upstream=exc.upstream, failure=exc.failure)
    copy.__cause__ = exc.__cause__ or exc
    return copy


class CoalescingRegistry(Coalescer[Person | None]):
    """The registry as a ``PersonSource`` whose lookups travel in batches."""

    def __init__(
        self,
        client: BatchRegistryClient,
        *,
        deadline_seconds: float,
        observer: UpstreamObserver = UNOBSERVED,
        **limits: int,
    ) -> None:
        super().__init__(
            client.lookup_many,
            upstream=REGISTRY,
            deadline_seconds=deadline_seconds,
            observer=observer,
            **limits,
        )

    # The port's method is the coalescer's own: no call in between.
    lookup = Coalescer.submit


class CoalescingAddresses(Coalescer[tuple[Registration, ...]]):
    """The address service as a ``RegistrationSource`` whose lookups travel in batches."""

    def __init__(
        self,
        client: BatchAddressClient,
        *,
        deadline_seconds: float,
        observer: UpstreamObserver = UNOBSERVED,
        **limits: int,
    ) -> None:
        super().__init__(
            client.registrations_many,
            upstream=ADDRESSES,
            deadline_seconds=deadline_seconds,
            observer=observer,
            **limits,
        )

    registrations = Coalescer.submit
