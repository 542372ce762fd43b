"""Retries, a circuit breaker and a bulkhead for one upstream's calls (the guard's state;
``service.adapters.upstream.UpstreamCaller`` applies them to each call).

Every call that comes through here is a read: retrying one can change nothing upstream.
A call gets at most ``RetryPolicy.attempts`` attempts, all inside its deadline,
retried on a timeout, a connection fault or a 5xx, never on an answer (200, the upstream's
own not-found, any other 4xx). The breaker stops calling an upstream that keeps failing and
lets one probe through after a cool-down; the bulkhead caps the calls in flight to one
upstream, so a slow one cannot hold every connection and every request of the service.

Retries are stamina's (jittered exponential backoff, its test mode). The breaker is a few
lines of our own: it runs on every lookup, and an event loop needs no locks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import Enum, StrEnum

import httpx
import stamina

from service.logs import get_logger

_log = get_logger("service.upstream")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Admission(Enum):
    REFUSED = 0
    CALL = 1
    PROBE = 2


class CircuitOpen(Exception):
    """The cause of a lookup refused by an open breaker: no call was made."""


class BulkheadFull(Exception):
    """The cause of a lookup that found every slot to its upstream taken until its deadline."""


class RetryableStatus(Exception):
    """A 5xx answer, raised so stamina retries it; the last one is returned, not raised."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"upstream answered {response.status_code}")
        self.response = response


# What a retry may cure: no answer (timeouts, refused or dropped connections, protocol
# faults; service.adapters.transport maps every aiohttp error to one), or a 5xx. Not
# httpx.DecodingError and the like: the upstream answered, and would answer the same again.
RETRYABLE: tuple[type[Exception], ...] = (
    RetryableStatus,
    httpx.TransportError,
    OSError,  # TimeoutError among them; injected transports raise bare socket errors
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failed upstream call is tried again (by stamina).

    The online lookups keep the defaults: three attempts with short, jittered waits, all inside
    the check's deadline. The voter-list compiler waits longer between more attempts.
    """

    attempts: int = 3
    wait_initial_seconds: float = 0.05
    wait_max_seconds: float = 0.25
    wait_jitter_seconds: float = 0.05

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if min(self.wait_initial_seconds, self.wait_max_seconds, self.wait_jitter_seconds) < 0:
            raise ValueError("waits must not be negative")

    def attempts_on(
        self, on: type[Exception] | Callable[[Exception], bool]
    ) -> AsyncIterator[stamina.Attempt]:
        """stamina's attempts under this policy, retried on ``on``. No overall timeout of
        stamina's own: every caller has a deadline of its own."""
        return stamina.retry_context(
            on=on,
            attempts=self.attempts,
            timeout=None,
            wait_initial=self.wait_initial_seconds,
            wait_max=self.wait_max_seconds,
            wait_jitter=self.wait_jitter_seconds,
        )

    @classmethod
    def doubling(cls, *, attempts: int, first_wait_seconds: float) -> RetryPolicy:
        """Waits of ``first_wait_seconds``, then twice as long each time, without a cap."""
        return cls(
            attempts=attempts,
            wait_initial_seconds=first_wait_seconds,
            wait_max_seconds=first_wait_seconds * 2 ** max(attempts - 1, 0),
            wait_jitter_seconds=first_wait_seconds / 2,
        )


class CircuitBreaker:
    """Opens after ``failure_threshold`` failures in a row; one probe after ``reset_seconds``.

    A failure is an attempt that got no usable answer: a timeout, a connection fault or a
    5xx. Any answer closes the breaker again.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int,
        reset_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or not reset_seconds > 0:
            raise ValueError("failure_threshold must be >= 1 and reset_seconds positive")
        self.name = name
        self._threshold = failure_threshold
        self._reset_seconds = reset_seconds
        self._monotonic = monotonic
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._probing or self._monotonic() - self._opened_at >= self._reset_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def is_closed(self) -> bool:
        return self._opened_at is None

    def admit(self) -> Admission:
        if self._opened_at is None:
            return Admission.CALL
        if self._probing or self._monotonic() - self._opened_at < self._reset_seconds:
            return Admission.REFUSED
        self._probing = True
        return Admission.PROBE

    def record_success(self) -> None:
        self._failures = 0
        if self._opened_at is not None:
            self._opened_at = None
            self._probing = False
            _log.info("upstream.circuit.closed", upstream=self.name)

    def record_failure(self) -> None:
        self._failures += 1
        if self._probing:
            self._probing = False
            self._opened_at = self._monotonic()
            _log.warning("upstream.circuit.reopened", upstream=self.name)
        elif self._opened_at is None and self._failures >= self._threshold:
            self._opened_at = self._monotonic()
            _log.warning("upstream.circuit.opened", upstream=self.name, failures=self._failures)

    def abandon_probe(self) -> None:
        """The probe ended without a verdict (cancelled): the next caller probes instead."""
        self._probing = False


class UpstreamGuard:
    """Retry policy, breaker and bulkhead of one upstream, shared by all its calls
    (``service.adapters.upstream.UpstreamCaller`` applies them).

    Without a breaker or a bulkhead (the voter-list compiler) only the retries apply.
    ``calls`` and ``retries`` count attempts sent and retries among them, for the metrics.
    """

    __slots__ = ("breaker", "bulkhead", "calls", "retries", "retry", "upstream")

    def __init__(
        self,
        upstream: str,
        *,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        max_concurrent_calls: int | None = None,
    ) -> None:
        self.upstream = upstream
        self.retry = retry or RetryPolicy()
        self.breaker = breaker
        self.bulkhead = (
            asyncio.Semaphore(max_concurrent_calls) if max_concurrent_calls is not None else None
        )
        self.calls = 0
        self.retries = 0
        # stamina's default hooks log the failed call's repr and count into the process-wide
        # Prometheus registry; this service logs and counts retries itself.
        stamina.instrumentation.set_on_retry_hooks(())

    def may_retry(self, exc: Exception, *, now: float, deadline_at: float) -> bool:
        """Only a fault a retry may cure, only while the breaker is closed, and only if the
        longest backoff still ends before the deadline: a retry must never turn a quick 503
        into a late one."""
        return (
            isinstance(exc, RETRYABLE)
            and (self.breaker is None or self.breaker.is_closed)
            and now + self.retry.wait_max_seconds < deadline_at
        )
