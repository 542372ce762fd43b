"""The circuit breaker and the fault draw, on a clock the test moves."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.adapters.resilience import Admission, BreakerState, CircuitBreaker, RetryPolicy
from service.config import Settings
from service.mocks.faults import Fault, FaultInjection, FaultProfile
from tests.clocks import FakeClock

THRESHOLD = 3
RESET_SECONDS = 10.0


def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(
        "registry", failure_threshold=THRESHOLD, reset_seconds=RESET_SECONDS, monotonic=clock
    )


def opened(clock: FakeClock) -> CircuitBreaker:
    b = breaker(clock)
    for _ in range(THRESHOLD):
        assert b.admit() is Admission.CALL
        b.record_failure()
    return b


def test_a_closed_breaker_admits_every_call_and_opens_after_the_threshold_in_a_row() -> None:
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(THRESHOLD - 1):
        b.record_failure()
    assert b.state is BreakerState.CLOSED
    b.record_failure()

    assert b.state is BreakerState.OPEN
    assert b.admit() is Admission.REFUSED


def test_an_answer_between_failures_starts_the_count_again() -> None:
    b = breaker(FakeClock())
    for _ in range(5):
        for _ in range(THRESHOLD - 1):
            b.record_failure()
        b.record_success()

    assert b.state is BreakerState.CLOSED


def test_an_open_breaker_refuses_until_the_cool_down_then_lets_exactly_one_probe_through() -> None:
    clock = FakeClock()
    b = opened(clock)
    clock.advance(RESET_SECONDS - 0.01)
    assert b.admit() is Admission.REFUSED
    clock.advance(0.01)
    assert b.state is BreakerState.HALF_OPEN

    assert b.admit() is Admission.PROBE
    assert [b.admit() for _ in range(5)] == [Admission.REFUSED] * 5


def test_a_successful_probe_closes_the_breaker() -> None:
    clock = FakeClock()
    b = opened(clock)
    clock.advance(RESET_SECONDS)
    assert b.admit() is Admission.PROBE
    b.record_success()

    assert b.state is BreakerState.CLOSED
    assert b.admit() is Admission.CALL
    # The failure count started again: one failure does not reopen it.
    b.record_failure()
    assert b.state is BreakerState.CLOSED


def test_a_failed_probe_reopens_the_breaker_for_a_whole_new_cool_down() -> None:
    clock = FakeClock()
    b = opened(clock)
    clock.advance(RESET_SECONDS * 3)
    assert b.admit() is Admission.PROBE
    b.record_failure()

    assert b.state is BreakerState.OPEN
    clock.advance(RESET_SECONDS - 0.01)
    assert b.admit() is Admission.REFUSED
    clock.advance(0.01)
    assert b.admit() is Admission.PROBE


def test_an_abandoned_probe_lets_the_next_caller_probe() -> None:
    clock = FakeClock()
    b = opened(clock)
    clock.advance(RESET_SECONDS)
    assert b.admit() is Admission.PROBE
    b.abandon_probe()

    assert b.admit() is Admission.PROBE


@pytest.mark.parametrize(("threshold", "reset"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_a_breaker_without_a_threshold_or_a_cool_down_is_refused(
    threshold: int, reset: float
) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("registry", failure_threshold=threshold, reset_seconds=reset)


def test_a_retry_policy_without_an_attempt_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize("attempts", [0, 4])
def test_the_online_lookups_are_configured_with_one_to_three_attempts(attempts: int) -> None:
    # Three attempts with their waits fit in the check's deadline; the compiler may retry more.
    with pytest.raises(ValidationError, match="upstream_retry_attempts"):
        Settings(upstream_retry_attempts=attempts)


def test_the_compilers_doubling_policy_waits_twice_as_long_each_time_without_a_cap() -> None:
    policy = RetryPolicy.doubling(attempts=4, first_wait_seconds=0.25)
    assert policy.attempts == 4
    assert policy.wait_initial_seconds == 0.25
    assert policy.wait_max_seconds == 0.25 * 2**3


EVENTS = st.lists(
    st.one_of(
        st.just("admit"),
        st.just("success"),
        st.just("failure"),
        st.just("abandon"),
        st.floats(min_value=0, max_value=3 * RESET_SECONDS),
    ),
    max_size=60,
)


@settings(max_examples=300)
@given(EVENTS)
def test_breaker_never_admits_while_open_and_never_two_probes_at_once(events: list[object]) -> None:
    clock = FakeClock()
    b = breaker(clock)
    outstanding_probes = 0
    failures_in_a_row = 0
    for event in events:
        if isinstance(event, float):
            clock.advance(event)
            continue
        if event == "admit":
            before = b.state
            admission = b.admit()
            if before is BreakerState.OPEN:
                assert admission is Admission.REFUSED
            if before is BreakerState.CLOSED:
                assert admission is Admission.CALL
            if admission is Admission.PROBE:
                outstanding_probes += 1
                assert outstanding_probes == 1
        elif event == "success":
            b.record_success()
            failures_in_a_row = 0
            outstanding_probes = 0
            assert b.state is BreakerState.CLOSED
        elif event == "failure":
            b.record_failure()
            failures_in_a_row += 1
            outstanding_probes = 0
            if failures_in_a_row >= THRESHOLD:
                assert b.state is not BreakerState.CLOSED
        else:
            b.abandon_probe()
            outstanding_probes = 0


# The fault draw of the mocks


def test_fault_rates_over_one_or_negative_are_refused() -> None:
    with pytest.raises(ValueError, match="more than 1"):
        FaultProfile(error_rate=0.6, timeout_rate=0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultProfile(reset_rate=-0.1)
    with pytest.raises(ValueError, match="latency"):
        FaultProfile(latency_ms=-1)


def test_a_calm_profile_is_not_active() -> None:
    assert not FaultProfile(seed=3).is_active
    assert FaultProfile(latency_ms=1).is_active
    assert FaultProfile(malformed_rate=0.01).is_active


RATES = st.floats(min_value=0, max_value=0.25)


@settings(max_examples=100)
@given(error=RATES, timeout=RATES, malformed=RATES, reset=RATES, seed=st.integers(0, 2**32))
def test_the_same_seed_draws_the_same_faults_and_never_one_whose_rate_is_zero(
    error: float, timeout: float, malformed: float, reset: float, seed: int
) -> None:
    profile = FaultProfile(
        error_rate=error,
        timeout_rate=timeout,
        malformed_rate=malformed,
        reset_rate=reset,
        seed=seed,
    )
    first = FaultInjection(app=None, profile=profile)  # type: ignore[arg-type]
    second = FaultInjection(app=None, profile=profile)  # type: ignore[arg-type]
    draws = [first.draw() for _ in range(200)]

    assert draws == [second.draw() for _ in range(200)]
    allowed = {fault for fault, rate in profile.rates().items() if rate > 0} | {None}
    assert set(draws) <= allowed


def test_faults_are_drawn_at_about_their_rates() -> None:
    profile = FaultProfile(error_rate=0.2, timeout_rate=0.1, malformed_rate=0.05, seed=42)
    injection = FaultInjection(app=None, profile=profile)  # type: ignore[arg-type]
    counts = Counter(injection.draw() for _ in range(20_000))

    assert counts[Fault.ERROR] / 20_000 == pytest.approx(0.2, abs=0.015)
    assert counts[Fault.TIMEOUT] / 20_000 == pytest.approx(0.1, abs=0.015)
    assert counts[Fault.MALFORMED] / 20_000 == pytest.approx(0.05, abs=0.01)
    assert counts[Fault.RESET] == 0
    assert counts[None] / 20_000 == pytest.approx(0.65, abs=0.015)
