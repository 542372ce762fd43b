"""The in-process rate limiter and bulk-read detector, on a clock the test moves."""

from __future__ import annotations

import pytest

from service.domain.caller import Caller, Role
from service.errors import RateLimited
from service.ratelimit import (
    BulkLookupWatch,
    DistinctLookupCounter,
    RequestLimits,
    SlidingWindowLimiter,
)
from tests.clocks import FakeClock


class Recorded:
    def __init__(self) -> None:
        self.rate_limited: list[str] = []
        self.bulk_alerts = 0

    def count_rate_limited(self, *, role: str) -> None:
        self.rate_limited.append(role)

    def count_bulk_lookup_alert(self) -> None:
        self.bulk_alerts += 1


def _caller(subject: str, *roles: Role) -> Caller:
    return Caller(subject=subject, roles=frozenset(roles), token_id=None)


def test_limiter_admits_up_to_the_limit_and_refuses_the_next_until_the_oldest_slot_frees() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(window_seconds=60, now=clock)
    assert limiter.acquire("alice", limit=3) is None
    clock.advance(10)
    assert limiter.acquire("alice", limit=3) is None
    clock.advance(10)
    assert limiter.acquire("alice", limit=3) is None
    clock.advance(5)
    # The first admission was 25 s ago: its slot frees in 35 s.
    assert limiter.acquire("alice", limit=3) == 35
    clock.advance(34.5)
    assert limiter.acquire("alice", limit=3) == 1
    clock.advance(0.5)
    assert limiter.acquire("alice", limit=3) is None
    assert limiter.acquire("alice", limit=3) == 10


def test_refused_requests_do_not_take_a_slot() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(window_seconds=60, now=clock)
    assert limiter.acquire("alice", limit=1) is None
    for _ in range(5):
        clock.advance(10)
        assert limiter.acquire("alice", limit=1) is not None
    clock.advance(10)
    assert limiter.acquire("alice", limit=1) is None


def test_one_subject_at_its_limit_leaves_another_unaffected() -> None:
    limiter = SlidingWindowLimiter(window_seconds=60, now=FakeClock())
    assert limiter.acquire("alice", limit=1) is None
    assert limiter.acquire("alice", limit=1) == 60
    assert limiter.acquire("bob", limit=1) is None


def test_idle_subjects_are_evicted_once_their_window_has_passed() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(window_seconds=60, now=clock)
    for n in range(50):
        limiter.acquire(f"subject-{n}", limit=5)
    assert len(limiter) == 50
    clock.advance(61)
    limiter.acquire("latecomer", limit=5)
    assert len(limiter) == 1


def test_tracked_subjects_never_exceed_the_bound() -> None:
    limiter = SlidingWindowLimiter(window_seconds=60, max_keys=10, now=FakeClock())
    for n in range(100):
        assert limiter.acquire(f"subject-{n}", limit=1) is None
        assert len(limiter) <= 10
    # The most recent subject is still tracked, hence still limited.
    assert limiter.acquire("subject-99", limit=1) == 60


def test_caller_with_several_roles_gets_the_most_generous_capped_by_the_per_subject_limit() -> None:
    observer = Recorded()
    limits = RequestLimits(
        per_subject_per_minute=5,
        per_role_per_minute={"auditor": 1, "operator": 2, "egov": 600},
        observer=observer,
        now=FakeClock(),
    )
    auditor = _caller("auditor@cec", Role.AUDITOR)
    limits.admit(auditor)
    with pytest.raises(RateLimited) as refused:
        limits.admit(auditor)
    assert refused.value.retry_after_seconds == 60

    both = _caller("both@cec", Role.AUDITOR, Role.OPERATOR)
    limits.admit(both)
    limits.admit(both)
    with pytest.raises(RateLimited):
        limits.admit(both)

    # egov allows 600 a minute, but no subject gets more than the per-subject 5.
    egov = _caller("egov@gov", Role.EGOV)
    for _ in range(5):
        limits.admit(egov)
    with pytest.raises(RateLimited):
        limits.admit(egov)

    # A role left out of the per-role table falls back to the per-subject limit.
    commission = _caller("member@cec", Role.COMMISSION)
    for _ in range(5):
        limits.admit(commission)
    with pytest.raises(RateLimited):
        limits.admit(commission)
    assert observer.rate_limited == ["auditor", "operator", "egov", "commission"]


def test_per_role_limits_naming_an_unknown_role_are_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        RequestLimits(
            per_subject_per_minute=5, per_role_per_minute={"admin": 9}, observer=Recorded()
        )


def test_distinct_counter_reports_crossing_the_threshold_once_per_window() -> None:
    clock = FakeClock()
    counter = DistinctLookupCounter(threshold=3, window_seconds=3600, now=clock)
    assert [counter.record("alice", voter) for voter in ("a", "b", "a", "c", "c")] == [None] * 5
    assert counter.record("alice", "d") == 4
    assert counter.record("alice", "e") is None
    assert counter.record("bob", "a") is None
    clock.advance(3600)
    assert [counter.record("alice", voter) for voter in ("a", "b", "c")] == [None] * 3
    assert counter.record("alice", "d") == 4


def test_distinct_counter_forgets_callers_whose_window_has_run_out() -> None:
    clock = FakeClock()
    counter = DistinctLookupCounter(threshold=3, window_seconds=3600, now=clock)
    for n in range(20):
        counter.record(f"caller-{n}", "voter")
    assert len(counter) == 20
    clock.advance(3600)
    counter.record("latecomer", "voter")
    assert len(counter) == 1


def test_bulk_lookup_watch_alerts_once_for_the_account_that_crossed() -> None:
    observer = Recorded()
    watch = BulkLookupWatch(threshold=2, observer=observer, now=FakeClock())
    for voter in ("v1:a", "v1:b", "v1:c", "v1:d"):
        watch.looked_up(caller="walker@egov", voter_subject=voter)
    watch.looked_up(caller="other@egov", voter_subject="v1:a")
    assert observer.bulk_alerts == 1
