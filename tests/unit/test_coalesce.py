"""The lookup coalescer (service/adapters/coalesce.py) against a fake batch upstream."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.adapters.coalesce import Coalescer
from service.errors import UpstreamUnavailable
from service.usecases.eligibility import EligibilityService


class FakeUpstream:
    """Answers each key with its upper-case form after ``delay``; records every batch."""

    def __init__(self, *, delay: float = 0.0, fail: bool = False) -> None:
        self.delay = delay
        self.fail = fail
        self.batches: list[list[str]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def fetch_many(self, keys: Sequence[str]) -> list[str]:
        self.batches.append(list(keys))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if self.fail:
                raise UpstreamUnavailable(upstream="registry", failure="status")
            return [key.upper() for key in keys]
        finally:
            self.in_flight -= 1


def coalescer(upstream: FakeUpstream, **options: float) -> Coalescer[str]:
    return Coalescer(
        upstream.fetch_many,
        upstream="registry",
        deadline_seconds=float(options.pop("deadline_seconds", 2.0)),
        **{k: int(v) for k, v in options.items()},
    )


async def test_a_lone_lookup_leaves_at_once_in_a_batch_of_one() -> None:
    upstream = FakeUpstream()
    assert await coalescer(upstream).get("a") == "A"
    assert upstream.batches == [["a"]]


async def test_lookups_made_together_share_one_call() -> None:
    upstream = FakeUpstream()
    lookups = coalescer(upstream)

    answers = await asyncio.gather(*(lookups.get(k) for k in ["a", "b", "c", "b"]))

    assert answers == ["A", "B", "C", "B"]
    assert upstream.batches == [["a", "b", "c"]]  # "b" asked twice, sent once


async def test_lookups_wait_while_the_in_flight_limit_is_reached_then_leave_together() -> None:
    upstream = FakeUpstream(delay=0.05)
    lookups = coalescer(upstream, max_in_flight=1)

    first = asyncio.ensure_future(lookups.get("a"))
    await asyncio.sleep(0.01)  # "a" is in flight
    later = [asyncio.ensure_future(lookups.get(k)) for k in ["b", "c", "d"]]
    answers = await asyncio.gather(first, *later)

    assert answers == ["A", "B", "C", "D"]
    assert upstream.batches == [["a"], ["b", "c", "d"]]
    assert upstream.most_in_flight == 1


async def test_a_batch_never_exceeds_its_size_bound() -> None:
    upstream = FakeUpstream()
    lookups = coalescer(upstream, max_batch=3)

    answers = await asyncio.gather(*(lookups.get(f"k{n}") for n in range(7)))

    assert answers == [f"K{n}" for n in range(7)]
    assert [len(b) for b in upstream.batches] == [3, 3, 1]


async def test_a_failed_batch_fails_each_caller_with_an_error_of_its_own() -> None:
    lookups = coalescer(FakeUpstream(fail=True))

    outcomes = await asyncio.gather(
        lookups.get("a"), lookups.get("b"), lookups.get("a"), return_exceptions=True
    )

    assert all(isinstance(o, UpstreamUnavailable) for o in outcomes)
    assert len({id(o) for o in outcomes}) == 3  # each caller attaches its own receipt
    assert {o.failure for o in outcomes if isinstance(o, UpstreamUnavailable)} == {"status"}


async def test_a_lookup_that_outlives_its_deadline_is_a_timeout_fault() -> None:
    lookups = coalescer(FakeUpstream(delay=1.0), deadline_seconds=0.05)

    with pytest.raises(UpstreamUnavailable) as caught:
        await lookups.get("a")
    assert caught.value.failure == "timeout"


async def test_a_lookup_cancelled_before_it_leaves_is_not_sent() -> None:
    upstream = FakeUpstream(delay=0.05)
    lookups = coalescer(upstream, max_in_flight=1)
    first = asyncio.ensure_future(lookups.get("a"))
    await asyncio.sleep(0.01)
    abandoned = asyncio.ensure_future(lookups.get("gone"))
    kept = asyncio.ensure_future(lookups.get("kept"))
    await asyncio.sleep(0)
    abandoned.cancel()

    assert await asyncio.gather(first, kept) == ["A", "KEPT"]
    assert upstream.batches == [["a"], ["kept"]]


@settings(max_examples=50, deadline=None)
@given(
    keys=st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=40),
    max_batch=st.integers(1, 8),
    max_in_flight=st.integers(1, 4),
)
def test_every_caller_gets_its_own_keys_answer_whatever_the_grouping(
    keys: list[str], max_batch: int, max_in_flight: int
) -> None:
    async def run() -> tuple[list[str], FakeUpstream]:
        upstream = FakeUpstream(delay=0.001)
        lookups = coalescer(upstream, max_batch=max_batch, max_in_flight=max_in_flight)
        return list(await asyncio.gather(*(lookups.get(k) for k in keys))), upstream

    answers, upstream = asyncio.run(run())

    assert answers == [k.upper() for k in keys]
    assert all(len(batch) <= max_batch for batch in upstream.batches)
    assert upstream.most_in_flight <= max_in_flight
    assert len(upstream.batches) <= len(keys)


async def test_a_lookup_still_waiting_for_a_slot_at_its_deadline_is_a_timeout_fault() -> None:
    lookups = coalescer(FakeUpstream(delay=1.0), max_in_flight=1, deadline_seconds=0.05)
    first = lookups.submit("a")
    await asyncio.sleep(0)  # "a" is in flight and holds the only slot
    waiting = lookups.submit("b")

    outcomes = await asyncio.gather(first, waiting, return_exceptions=True)

    assert [getattr(o, "failure", None) for o in outcomes] == ["timeout", "timeout"]


async def test_each_lookup_has_its_whole_deadline_from_when_it_was_made() -> None:
    lookups = coalescer(FakeUpstream(delay=0.12), deadline_seconds=0.1)
    early = lookups.submit("a")
    await asyncio.sleep(0.05)
    late = lookups.submit("b")  # its batch answers at 0.17 s, its deadline is at 0.15 s

    with pytest.raises(UpstreamUnavailable):
        await early
    assert not late.done()  # the first deadline did not end the second lookup early
    with pytest.raises(UpstreamUnavailable) as caught:
        await late
    assert caught.value.failure == "timeout"


async def test_a_submitted_lookup_cancelled_before_it_leaves_is_not_sent() -> None:
    upstream = FakeUpstream()
    lookups = coalescer(upstream)
    abandoned = lookups.submit("gone")
    kept = lookups.submit("kept")
    abandoned.cancel()

    assert await kept == "KEPT"
    assert upstream.batches == [["kept"]]


class _Source:
    """A registry or an address service over one coalescer: the check only passes values on."""

    def __init__(self, upstream: FakeUpstream) -> None:
        self._lookups = coalescer(upstream)
        self.started: list[asyncio.Future[str]] = []

    def _start(self, iin: str) -> asyncio.Future[str]:
        self.started.append(self._lookups.submit(iin))
        return self.started[-1]

    lookup = registrations = _start


class TwoUpstreams:
    """A registry and an address service that answer (or fail) after their own delays."""

    def __init__(self, *, person_after: float, homes_after: float, failing: str = "") -> None:
        self.registry = _Source(FakeUpstream(delay=person_after, fail=failing == "registry"))
        self.addresses = _Source(FakeUpstream(delay=homes_after, fail=failing == "addresses"))
        self.service = EligibilityService(
            registry=self.registry,  # type: ignore[arg-type]
            addresses=self.addresses,  # type: ignore[arg-type]
            reference=None,  # type: ignore[arg-type]
            storage=None,  # type: ignore[arg-type]
            decisions=None,  # type: ignore[arg-type]
            pseudonymise=None,  # type: ignore[arg-type]
            clock=None,  # type: ignore[arg-type]
        )


# The gathering step itself, private: what it returns or raises is what the check decides on.


async def test_the_check_gathers_both_lookups_at_once() -> None:
    upstreams = TwoUpstreams(person_after=0.05, homes_after=0.05)
    started = asyncio.get_running_loop().time()

    assert await upstreams.service._gather("a") == ("A", "A")
    assert asyncio.get_running_loop().time() - started < 0.09


@pytest.mark.parametrize("failing", ["registry", "addresses"])
async def test_the_first_fault_ends_the_gathering_and_abandons_the_other_lookup(
    failing: str,
) -> None:
    slow = 1.0
    upstreams = TwoUpstreams(
        person_after=0.0 if failing == "registry" else slow,
        homes_after=0.0 if failing == "addresses" else slow,
        failing=failing,
    )
    started = asyncio.get_running_loop().time()

    # The fault, not an error from reading the other lookup's missing result.
    with pytest.raises(UpstreamUnavailable):
        await upstreams.service._gather("a")

    assert asyncio.get_running_loop().time() - started < slow / 2
    other = upstreams.addresses if failing == "registry" else upstreams.registry
    assert other.started[0].cancelled()


async def test_a_cancelled_check_abandons_both_lookups() -> None:
    upstreams = TwoUpstreams(person_after=1.0, homes_after=1.0)
    gathering = asyncio.ensure_future(upstreams.service._gather("a"))
    await asyncio.sleep(0.01)
    gathering.cancel()

    with pytest.raises(asyncio.CancelledError):
        await gathering
    assert upstreams.registry.started[0].cancelled()
    assert upstreams.addresses.started[0].cancelled()
