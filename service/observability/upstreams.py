"""Upstream lookups, counted and timed around the adapters rather than inside them.

The adapters stay free of metrics (the CLI and the tests use them bare); this wrapper sees
the whole lookup, validation included, and the adapters' own fault classification, so the
``result`` label is the same ``UpstreamFailure`` the caller's 503 reports.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Protocol, TypeVar

from service.adapters import addresses, registry
from service.domain.model import Person, Registration
from service.errors import UpstreamUnavailable
from service.observability.metrics import UPSTREAM_OK
from service.usecases.eligibility import PersonSource, RegistrationSource

T = TypeVar("T")


class UpstreamObserver(Protocol):
    def observe_upstream(self, *, upstream: str, result: str, seconds: float) -> None: ...


async def observed(call: Awaitable[T], *, upstream: str, observer: UpstreamObserver) -> T:
    """Await ``call`` and report its result and duration; a cancelled call is not reported.

    A lookup is cancelled when the other upstream has already failed the check: it has no
    result of its own, and counting it as a fault would blame an upstream that did nothing.
    """
    started = time.perf_counter()
    try:
        value = await call
    except UpstreamUnavailable as exc:
        observer.observe_upstream(
            upstream=upstream, result=str(exc.failure), seconds=time.perf_counter() - started
        )
        raise
    observer.observe_upstream(
        upstream=upstream, result=UPSTREAM_OK, seconds=time.perf_counter() - started
    )
    return value


class ObservedRegistry:
    def __init__(self, source: PersonSource, *, observer: UpstreamObserver) -> None:
        self._source = source
        self._observer = observer

    async def lookup(self, iin: str) -> Person | None:
        return await observed(
            self._source.lookup(iin), upstream=registry.UPSTREAM, observer=self._observer
        )


class ObservedAddresses:
    def __init__(self, source: RegistrationSource, *, observer: UpstreamObserver) -> None:
        self._source = source
        self._observer = observer

    async def registrations(self, iin: str) -> tuple[Registration, ...]:
        return await observed(
            self._source.registrations(iin), upstream=addresses.UPSTREAM, observer=self._observer
        )
