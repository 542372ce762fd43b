"""Upstream lookups, counted and timed around the adapters rather than inside them.

The adapters stay free of metrics (the CLI and the tests use them bare); this wrapper sees
the whole lookup, validation included, and the adapters' own fault classification, so the
``result`` label is the same ``UpstreamFailure`` the caller's 503 reports.

A lookup is a future (the coalescer's own, or a task around a one-by-one client's
coroutine), and the wrappers report from a done callback on it: a cancelled lookup (the
other upstream already failed the check) has no result of its own and is not reported.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol, TypeVar

from service.adapters import addresses, registry
from service.domain.model import Person, Registration
from service.errors import UpstreamUnavailable
from service.observability.metrics import UPSTREAM_OK
from service.usecases.ports import PersonSource, RegistrationSource

T = TypeVar("T")


class UpstreamObserver(Protocol):
    def observe_upstream(self, *, upstream: str, result: str, seconds: float) -> None: ...


class _Report:
    """Reports one lookup once it is done: its result (ok, or the ``UpstreamFailure`` of an
    ``UpstreamUnavailable``) and its duration; nothing for a cancelled call or another error.
    A slotted callable rather than a closure, made once per lookup."""

    __slots__ = ("_observer", "_started", "_upstream")

    def __init__(self, *, upstream: str, observer: UpstreamObserver) -> None:
        self._upstream = upstream
        self._observer = observer
        self._started = time.perf_counter()

    def __call__(self, call: asyncio.Future[Any]) -> None:
        if call.cancelled():
            return
        fault = call.exception()
        if fault is None:
            result = UPSTREAM_OK
        elif isinstance(fault, UpstreamUnavailable):
            result = str(fault.failure)
        else:
            return
        self._observer.observe_upstream(
            upstream=self._upstream, result=result, seconds=time.perf_counter() - self._started
        )


class ObservedRegistry:
    def __init__(self, source: PersonSource, *, observer: UpstreamObserver) -> None:
        self._source = source
        self._observer = observer

    def lookup(self, iin: str) -> asyncio.Future[Person | None]:
        call = asyncio.ensure_future(self._source.lookup(iin))
        call.add_done_callback(_Report(upstream=registry.UPSTREAM, observer=self._observer))
        return call


class ObservedAddresses:
    def __init__(self, source: RegistrationSource, *, observer: UpstreamObserver) -> None:
        self._source = source
        self._observer = observer

    def registrations(self, iin: str) -> asyncio.Future[tuple[Registration, ...]]:
        call = asyncio.ensure_future(self._source.registrations(iin))
        call.add_done_callback(_Report(upstream=addresses.UPSTREAM, observer=self._observer))
        return call
