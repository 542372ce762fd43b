"""The in-process rate limiter, bulk-read detector and account-hold guard, on a clock the
test moves."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from service.clock import FixedClock
from service.config import Settings
from service.domain.caller import Caller, Role
from service.domain.limits import ROLE_LIMITS, role_limits
from service.errors import AccountHeld, ErrorCode, RateLimited, ServiceError, StorageUnavailable
from service.ratelimit import (
    BulkLookupGuard,
    DistinctLookupCounter,
    RequestLimits,
    SlidingWindowLimiter,
)
from service.usecases.account_holds import KIND_LIFTED, KIND_PLACED, AccountHoldService
from tests.clocks import FakeClock
from tests.unit.usecases.fakes import FakeStorage, Store

NOW = dt.datetime(2027, 3, 20, 9, 0, tzinfo=dt.UTC)


class Recorded:
    def __init__(self) -> None:
        self.rate_limited: list[str] = []
        self.bulk_alerts = 0
        self.holds: list[str] = []

    def count_rate_limited(self, *, role: str) -> None:
        self.rate_limited.append(role)

    def count_bulk_lookup_alert(self) -> None:
        self.bulk_alerts += 1

    def count_account_hold(self, *, role: str) -> None:
        self.holds.append(role)


class HeldHere:
    """The accounts held, as one process knows them: a set."""

    def __init__(self) -> None:
        self.accounts: set[str] = set()

    async def is_held(self, account: str) -> bool:
        return account in self.accounts

    def placed(self, account: str) -> None:
        self.accounts.add(account)

    def lifted(self, account: str) -> None:
        self.accounts.discard(account)


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


def test_commission_is_refused_past_its_role_limit_while_egov_at_that_rate_is_not() -> None:
    observer = Recorded()
    limits = RequestLimits(table=role_limits(), observer=observer, now=FakeClock())
    commission = _caller("member@pec-75-0123", Role.COMMISSION)
    egov = _caller("portal@egov", Role.EGOV)
    allowed = ROLE_LIMITS[Role.COMMISSION].per_minute
    for _ in range(allowed):
        limits.admit(commission)
        limits.admit(egov)
    with pytest.raises(RateLimited) as refused:
        limits.admit(commission)
    assert refused.value.retry_after_seconds == 60
    for _ in range(10 * allowed):
        limits.admit(egov)
    assert observer.rate_limited == ["commission"]


def test_caller_with_several_roles_gets_the_most_generous_role() -> None:
    observer = Recorded()
    table = role_limits(
        per_minute_by_role={Role.AUDITOR: 1, Role.OPERATOR: 2, Role.EGOV: 5, Role.COMMISSION: 3}
    )
    limits = RequestLimits(table=table, observer=observer, now=FakeClock())
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

    egov = _caller("egov@gov", Role.EGOV, Role.COMMISSION)
    for _ in range(5):
        limits.admit(egov)
    with pytest.raises(RateLimited):
        limits.admit(egov)
    assert observer.rate_limited == ["auditor", "operator", "egov"]


def test_one_setting_for_every_role_still_applies_as_before_per_role_limits() -> None:
    settings = Settings(rate_limit_per_minute=3, rate_limit_per_role={"auditor": 1})
    limits = RequestLimits(table=settings.role_limits(), observer=Recorded(), now=FakeClock())
    for role in (Role.EGOV, Role.COMMISSION, Role.OPERATOR):
        caller = _caller(f"someone@{role.value}", role)
        for _ in range(3):
            limits.admit(caller)
        with pytest.raises(RateLimited):
            limits.admit(caller)
    limits.admit(_caller("auditor@cec", Role.AUDITOR))
    with pytest.raises(RateLimited):
        limits.admit(_caller("auditor@cec", Role.AUDITOR))


@pytest.mark.parametrize(
    "setting", ["rate_limit_per_role", "bulk_lookup_threshold_per_role"], ids=str
)
def test_per_role_settings_naming_an_unknown_role_are_refused_at_startup(setting: str) -> None:
    with pytest.raises(ValidationError, match="unknown roles"):
        Settings(**{setting: {"admin": 9}})


def test_distinct_counter_reports_a_crossing_until_it_is_settled_for_the_window() -> None:
    clock = FakeClock()
    counter = DistinctLookupCounter(window_seconds=3600, now=clock)
    voters = ("a", "b", "a", "c", "c")
    assert [counter.record("alice", voter, threshold=3) for voter in voters] == [None] * 5
    assert counter.record("alice", "d", threshold=3) == 4
    assert counter.record("alice", "e", threshold=3) == 4  # the set stops growing
    counter.settle("alice")
    assert counter.record("alice", "f", threshold=3) is None
    assert counter.record("bob", "a", threshold=3) is None
    clock.advance(3600)
    assert [counter.record("alice", voter, threshold=3) for voter in "abc"] == [None] * 3
    assert counter.record("alice", "d", threshold=3) == 4


def test_distinct_counter_forgets_callers_whose_window_has_run_out_or_was_dropped() -> None:
    clock = FakeClock()
    counter = DistinctLookupCounter(window_seconds=3600, now=clock)
    for n in range(20):
        counter.record(f"caller-{n}", "voter", threshold=3)
    assert len(counter) == 20
    counter.forget("caller-7")
    assert len(counter) == 19
    clock.advance(3600)
    counter.record("latecomer", "voter", threshold=3)
    assert len(counter) == 1


def _guard(
    storage: FakeStorage, *, threshold: int
) -> tuple[BulkLookupGuard, AccountHoldService, Recorded, HeldHere]:
    held = HeldHere()
    holds = AccountHoldService(storage=storage, held=held, clock=FixedClock(NOW))
    observer = Recorded()
    table = role_limits(hold_after_voters=threshold)
    guard = BulkLookupGuard(table=table, holds=holds, observer=observer, now=FakeClock())
    return guard, holds, observer, held


async def test_egov_crossing_the_threshold_is_alerted_on_once_and_never_held() -> None:
    storage = FakeStorage(Store())
    guard, _, observer, _ = _guard(storage, threshold=2)
    portal = _caller("portal@egov", Role.EGOV)
    for voter in ("v1:a", "v1:b", "v1:c", "v1:d", "v1:a"):
        await guard.admit(caller=portal, voter_subject=voter)
    await guard.admit(caller=_caller("other@egov", Role.EGOV), voter_subject="v1:a")
    assert observer.bulk_alerts == 1
    assert observer.holds == []
    assert storage.store.account_holds == {}


async def test_commission_past_the_threshold_is_held_and_audited_until_an_operator_lifts_it() -> (
    None
):
    storage = FakeStorage(Store())
    guard, holds, observer, held = _guard(storage, threshold=2)
    member = _caller("member@pec", Role.COMMISSION)
    await guard.admit(caller=member, voter_subject="v1:a")
    await guard.admit(caller=member, voter_subject="v1:b")
    # The third distinct voter crosses: refused, and the account is held from then on.
    with pytest.raises(AccountHeld):
        await guard.admit(caller=member, voter_subject="v1:c")
    with pytest.raises(AccountHeld):
        await guard.admit(caller=member, voter_subject="v1:a")  # a voter it saw before too
    await guard.admit(caller=_caller("other@pec", Role.COMMISSION), voter_subject="v1:c")

    [hold] = storage.store.account_holds.values()
    assert (hold.account, hold.role, hold.distinct_voters, hold.threshold) == (
        "member@pec",
        "commission",
        3,
        2,
    )
    [placed] = [entry for entry in storage.store.entries if entry.kind == KIND_PLACED]
    assert placed.subject is None
    assert placed.payload["account"] == {"sub": "member@pec", "role": "commission"}
    assert hold.audit_seq == placed.seq
    assert observer.bulk_alerts == 1
    assert observer.holds == ["commission"]
    assert held.accounts == {"member@pec"}

    operator = _caller("operator@tec", Role.OPERATOR)
    lifted = await holds.lift(hold.id, reason="checked", caller=operator, request_id="r-1")
    assert lifted.lifted_by == "operator@tec"
    assert storage.store.kinds()[-1] == KIND_LIFTED
    # Lifted: admitted again, and counted from nothing.
    await guard.admit(caller=member, voter_subject="v1:d")
    await guard.admit(caller=member, voter_subject="v1:e")
    with pytest.raises(AccountHeld):
        await guard.admit(caller=member, voter_subject="v1:f")
    assert len(storage.store.account_holds) == 2


async def test_a_hold_that_cannot_be_recorded_is_not_kept_and_is_tried_again() -> None:
    storage = FakeStorage(Store())
    guard, _, observer, held = _guard(storage, threshold=1)
    member = _caller("member@pec", Role.COMMISSION)
    await guard.admit(caller=member, voter_subject="v1:a")

    def database_down(_uow: object) -> None:
        raise StorageUnavailable

    storage.before_next_unit = database_down
    with pytest.raises(StorageUnavailable):
        await guard.admit(caller=member, voter_subject="v1:b")
    assert held.accounts == set()
    assert observer.bulk_alerts == 0
    with pytest.raises(AccountHeld):
        await guard.admit(caller=member, voter_subject="v1:b")
    assert len(storage.store.account_holds) == 1
    assert observer.bulk_alerts == 1


async def test_an_operator_cannot_lift_a_hold_on_their_own_account_nor_lift_one_twice() -> None:
    storage = FakeStorage(Store())
    guard, holds, _, held = _guard(storage, threshold=1)
    walker = _caller("walker@tec", Role.OPERATOR)
    await guard.admit(caller=walker, voter_subject="v1:a")
    with pytest.raises(AccountHeld):
        await guard.admit(caller=walker, voter_subject="v1:b")
    [hold] = storage.store.account_holds.values()

    with pytest.raises(ServiceError) as own:
        await holds.lift(hold.id, reason="it was me", caller=walker, request_id="r-1")
    assert own.value.code is ErrorCode.SELF_LIFT_FORBIDDEN
    assert held.accounts == {"walker@tec"}
    assert KIND_LIFTED not in storage.store.kinds()

    other = _caller("other@tec", Role.OPERATOR)
    await holds.lift(hold.id, reason="checked", caller=other, request_id="r-2")
    with pytest.raises(ServiceError) as again:
        await holds.lift(hold.id, reason="again", caller=other, request_id="r-3")
    assert again.value.code is ErrorCode.HOLD_NOT_ACTIVE
    with pytest.raises(ServiceError) as unknown:
        await holds.lift("0000", reason="x", caller=other, request_id="r-4")
    assert unknown.value.code is ErrorCode.RESOURCE_NOT_FOUND
