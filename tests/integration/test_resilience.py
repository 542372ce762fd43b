"""Retries, the circuit breaker and the bulkhead around the adapters, through fake transports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import stamina

from service.adapters.addresses import AddressClient
from service.adapters.registry import RegistryClient
from service.adapters.resilience import (
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    RetryPolicy,
    UpstreamGuard,
)
from service.adapters.upstream import build_upstream_client
from service.errors import UpstreamUnavailable
from tests.clocks import FakeClock
from tests.integration.test_adapters import AIGERIM, person_json, registration_json

DEADLINE_SECONDS = 0.5
THRESHOLD = 4
RESET_SECONDS = 30.0

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Scripted:
    """A fake upstream answering from a script, one step per call, the last step repeating.

    A step is a status code (answered with ``body``), an exception to raise, or "hang".
    """

    def __init__(self, *steps: int | Exception | str, body: Any = None) -> None:
        self.steps = steps
        self.body = body
        self.calls = 0
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if isinstance(step, Exception):
                raise step
            if step == "hang":
                await asyncio.sleep(DEADLINE_SECONDS * 20)
            if step == "slow":
                await asyncio.sleep(0.05)
                step = 200
            assert isinstance(step, int)
            if step == 404:
                return httpx.Response(404, json={"code": "PERSON_NOT_FOUND"})
            return httpx.Response(step, json=self.body if step == 200 else {"detail": "x"})
        finally:
            self.in_flight -= 1


def guard(
    clock: FakeClock | None = None, *, max_concurrent_calls: int = 64, attempts: int = 3
) -> UpstreamGuard:
    return UpstreamGuard(
        "registry",
        breaker=CircuitBreaker(
            "registry",
            failure_threshold=THRESHOLD,
            reset_seconds=RESET_SECONDS,
            monotonic=clock or FakeClock(),
        ),
        max_concurrent_calls=max_concurrent_calls,
        retry=RetryPolicy(attempts=attempts),
    )


def registry_client(handler: Handler, upstream_guard: UpstreamGuard) -> RegistryClient:
    http = build_upstream_client(
        "http://registry", timeout=httpx.Timeout(5.0), transport=httpx.MockTransport(handler)
    )
    return RegistryClient(http, deadline_seconds=DEADLINE_SECONDS, guard=upstream_guard)


async def lookup(handler: Handler, upstream_guard: UpstreamGuard) -> object:
    return await registry_client(handler, upstream_guard).lookup(AIGERIM)


async def failure_of(handler: Handler, upstream_guard: UpstreamGuard) -> UpstreamUnavailable:
    with pytest.raises(UpstreamUnavailable) as caught:
        await lookup(handler, upstream_guard)
    assert AIGERIM not in str(caught.value)
    return caught.value


# Retries


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(503, id="503"),
        pytest.param(500, id="500"),
        pytest.param(httpx.ConnectError("refused"), id="connect-error"),
        pytest.param(httpx.ReadTimeout("slow"), id="read-timeout"),
        pytest.param(httpx.RemoteProtocolError("reset mid-answer"), id="reset"),
        pytest.param(ConnectionResetError("reset"), id="bare-socket-error"),
    ],
)
async def test_a_transient_fault_is_retried_and_the_answer_is_the_real_one(
    first: int | Exception,
) -> None:
    upstream = Scripted(first, 200, body=person_json(AIGERIM))
    g = guard()

    person = await lookup(upstream, g)

    assert getattr(person, "iin", None) == AIGERIM
    assert (upstream.calls, g.calls, g.retries) == (2, 2, 1)
    assert g.breaker.state is BreakerState.CLOSED


async def test_the_address_lookup_is_retried_too() -> None:
    upstream = Scripted(502, 200, body={"registrations": [registration_json(AIGERIM)]})
    http = build_upstream_client(
        "http://addresses", timeout=httpx.Timeout(5.0), transport=httpx.MockTransport(upstream)
    )
    client = AddressClient(http, deadline_seconds=DEADLINE_SECONDS, guard=guard())

    [registration] = await client.registrations(AIGERIM)

    assert registration.iin == AIGERIM
    assert upstream.calls == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(404, None, id="person-not-found"),
        pytest.param(200, {"not": "a person"}, id="malformed-200"),
        pytest.param(400, None, id="400"),
        pytest.param(422, None, id="422"),
        pytest.param(429, None, id="429"),
    ],
)
async def test_an_answer_is_never_retried(status: int, body: Any) -> None:
    upstream = Scripted(status, 200, body=body)
    g = guard()

    try:
        result: object = await lookup(upstream, g)
    except UpstreamUnavailable as exc:
        result = exc.failure

    assert result == {404: None, 200: "malformed"}.get(status, "status")
    assert (upstream.calls, g.retries) == (1, 0)


async def test_a_lasting_5xx_gets_three_attempts_then_is_a_status_fault() -> None:
    upstream = Scripted(503)
    g = guard()

    error = await failure_of(upstream, g)

    assert (error.upstream, error.failure) == ("registry", "status")
    assert isinstance(error.__cause__, httpx.HTTPStatusError)
    assert (upstream.calls, g.retries) == (3, 2)


async def test_a_lasting_connection_fault_gets_three_attempts_then_is_a_connection_fault() -> None:
    upstream = Scripted(httpx.ConnectError("refused"))

    error = await failure_of(upstream, guard())

    assert error.failure == "connection"
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert upstream.calls == 3


async def test_a_single_attempt_policy_never_retries() -> None:
    upstream = Scripted(503, 200, body=person_json(AIGERIM))

    assert (await failure_of(upstream, guard(attempts=1))).failure == "status"
    assert upstream.calls == 1


async def test_an_upstream_hanging_past_the_deadline_costs_one_call_and_ends_on_the_deadline() -> (
    None
):
    upstream = Scripted("hang")
    started = time.monotonic()

    error = await failure_of(upstream, guard())

    assert error.failure == "timeout"
    assert time.monotonic() - started < DEADLINE_SECONDS + 0.3
    assert upstream.calls == 1


async def test_real_jittered_backoff_keeps_all_three_attempts_inside_the_deadline() -> None:
    upstream = Scripted(503)
    with stamina.set_testing(False):
        started = time.monotonic()
        error = await failure_of(upstream, guard())
        elapsed = time.monotonic() - started

    assert error.failure == "status"
    assert upstream.calls == 3
    # Two backoffs of 0.05-0.1 s and 0.1-0.15 s (RetryPolicy's defaults).
    assert 0.15 <= elapsed < DEADLINE_SECONDS


async def test_no_retry_starts_when_its_backoff_could_outlast_the_deadline() -> None:
    upstream = Scripted(503)
    http = build_upstream_client(
        "http://registry", timeout=httpx.Timeout(5.0), transport=httpx.MockTransport(upstream)
    )
    short = RegistryClient(http, deadline_seconds=0.2, guard=guard())
    with stamina.set_testing(False):
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable) as caught:
            await short.lookup(AIGERIM)
        elapsed = time.monotonic() - started

    # The longest backoff (0.25 s) would end after the 0.2 s deadline: answer at once.
    assert caught.value.failure == "status"
    assert upstream.calls == 1
    assert elapsed < 0.1


# The circuit breaker


async def test_the_breaker_opens_after_the_threshold_and_then_fails_fast_without_calling() -> None:
    upstream = Scripted(httpx.ConnectError("refused"))
    g = guard()
    await failure_of(upstream, g)  # 3 attempts
    await failure_of(upstream, g)  # the 4th failure opens the breaker: no 5th attempt
    assert upstream.calls == THRESHOLD
    assert g.breaker.state is BreakerState.OPEN

    started = time.monotonic()
    errors = [await failure_of(upstream, g) for _ in range(20)]

    assert time.monotonic() - started < 0.1
    assert {(e.upstream, e.failure) for e in errors} == {("registry", "circuit_open")}
    assert all(isinstance(e.__cause__, CircuitOpen) for e in errors)
    assert upstream.calls == THRESHOLD


async def test_after_the_cool_down_one_probe_goes_through_and_an_answer_closes_the_breaker() -> (
    None
):
    clock = FakeClock()
    upstream = Scripted(
        *[httpx.ConnectError("refused")] * THRESHOLD, 200, body=person_json(AIGERIM)
    )
    g = guard(clock)
    for _ in range(2):
        await failure_of(upstream, g)
    assert g.breaker.state is BreakerState.OPEN

    clock.seconds += RESET_SECONDS
    assert g.breaker.state is BreakerState.HALF_OPEN
    person = await lookup(upstream, g)

    assert getattr(person, "iin", None) == AIGERIM
    assert g.breaker.state is BreakerState.CLOSED
    assert upstream.calls == THRESHOLD + 1


async def test_a_failed_probe_is_not_retried_and_reopens_the_breaker() -> None:
    clock = FakeClock()
    upstream = Scripted(503)
    g = guard(clock)
    for _ in range(2):
        await failure_of(upstream, g)
    calls_when_opened = upstream.calls

    clock.seconds += RESET_SECONDS
    assert (await failure_of(upstream, g)).failure == "status"

    assert upstream.calls == calls_when_opened + 1
    assert g.breaker.state is BreakerState.OPEN
    assert (await failure_of(upstream, g)).failure == "circuit_open"


async def test_while_the_probe_is_out_every_other_lookup_fails_fast() -> None:
    clock = FakeClock()
    upstream = Scripted(*[503] * THRESHOLD, "slow", body=person_json(AIGERIM))
    g = guard(clock)
    for _ in range(2):
        await failure_of(upstream, g)
    clock.seconds += RESET_SECONDS

    results = await asyncio.gather(
        *(lookup(upstream, g) for _ in range(10)), return_exceptions=True
    )

    answered = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, UpstreamUnavailable)]
    assert len(answered) == 1
    assert {e.failure for e in refused} == {"circuit_open"}
    assert len(refused) == 9
    assert upstream.calls == THRESHOLD + 1


async def test_a_probe_cancelled_by_its_caller_hands_the_probe_to_the_next_caller() -> None:
    clock = FakeClock()
    upstream = Scripted(*[503] * THRESHOLD, "hang", 200, body=person_json(AIGERIM))
    g = guard(clock)
    for _ in range(2):
        await failure_of(upstream, g)
    clock.seconds += RESET_SECONDS

    probe = asyncio.ensure_future(lookup(upstream, g))
    await asyncio.sleep(0.05)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe

    person = await lookup(upstream, g)
    assert getattr(person, "iin", None) == AIGERIM
    assert g.breaker.state is BreakerState.CLOSED


async def test_a_caller_cancelling_a_lookup_is_not_counted_against_the_upstream() -> None:
    upstream = Scripted("hang")
    g = guard()
    for _ in range(THRESHOLD * 2):
        task = asyncio.ensure_future(lookup(upstream, g))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert g.breaker.state is BreakerState.CLOSED


# The bulkhead


async def test_the_bulkhead_caps_the_calls_in_flight_to_one_upstream() -> None:
    upstream = Scripted("slow", body=person_json(AIGERIM))
    g = guard(max_concurrent_calls=3)

    people = await asyncio.gather(*(lookup(upstream, g) for _ in range(12)))

    assert all(getattr(p, "iin", None) == AIGERIM for p in people)
    assert upstream.most_in_flight == 3
    assert upstream.calls == 12


async def test_lookups_that_find_no_free_slot_by_their_deadline_are_saturated_not_stuck() -> None:
    upstream = Scripted("hang")
    g = guard(max_concurrent_calls=2)
    http = build_upstream_client(
        "http://registry", timeout=httpx.Timeout(5.0), transport=httpx.MockTransport(upstream)
    )
    patient = RegistryClient(http, deadline_seconds=DEADLINE_SECONDS * 10, guard=g)
    holders = [asyncio.ensure_future(patient.lookup(AIGERIM)) for _ in range(2)]
    await asyncio.sleep(0.05)
    started = time.monotonic()

    results = await asyncio.gather(*(lookup(upstream, g) for _ in range(4)), return_exceptions=True)
    elapsed = time.monotonic() - started
    for holder in holders:
        holder.cancel()
    await asyncio.gather(*holders, return_exceptions=True)

    assert DEADLINE_SECONDS - 0.05 <= elapsed < DEADLINE_SECONDS + 0.3
    assert [getattr(r, "failure", r) for r in results] == ["saturated"] * 4
    assert upstream.calls == 2
    # Waiting for a slot says nothing about the upstream: the breaker stays closed.
    assert g.breaker.state is BreakerState.CLOSED
