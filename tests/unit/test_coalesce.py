"""The lookup coalescer (service/adapters/coalesce.py) against a fake batch upstream."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.adapters.coalesce import Coalescer
from service.errors import UpstreamUnavailable


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
