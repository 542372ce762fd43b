"""Service B over in-memory ports: registrations, each refusal, idempotent replay, cancel."""

from __future__ import annotations

import datetime as dt

import pytest

from service.domain.caller import Caller
from service.usecases.day_registrations import (
    IdempotencyConflict,
    Outcome,
    Refused,
    Registered,
    RegistrationNotActive,
)
from service.usecases.ports import Answer
from tests.unit.factories import ELECTION, person
from tests.unit.usecases.world import (
    ABROAD,
    DESIGNATED,
    EGOV,
    HOME,
    HOMELESS,
    MAKER,
    ON_THE_DAY,
    RESIDENT,
    World,
    voters,
    world,
)

MINOR = "900101300811"


class Answers:
    """The API's part, reduced: remembers what it was asked to render."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def __call__(self, outcome: Outcome) -> Answer:
        self.outcomes.append(outcome)
        if isinstance(outcome, Registered):
            return Answer(201, outcome.registration.id.encode())
        return Answer(409, outcome.refusal.code.value.encode())


async def register(
    w: World,
    iin: str,
    *,
    key: str = "key-00000001",
    precinct_id: str = DESIGNATED.id,
    answers: Answers | None = None,
    caller: Caller = EGOV,
) -> Answer:
    return await w.day_registrations.register(
        raw_iin=iin,
        election_id=ELECTION.id,
        precinct_id=precinct_id,
        idempotency_key=key,
        caller=caller,
        request_id="req-1",
        answer_for=answers or Answers(),
    )


async def test_a_voter_registered_nowhere_is_registered_at_a_designated_precinct() -> None:
    w = world(now=ON_THE_DAY)
    answers = Answers()

    answer = await register(w, HOMELESS, answers=answers)

    [outcome] = answers.outcomes
    assert isinstance(outcome, Registered)
    assert outcome.registration.precinct_id == DESIGNATED.id
    assert outcome.registration.status == "active"
    assert answer == Answer(201, outcome.registration.id.encode())
    [entry] = w.store.entries
    assert entry.kind == "day_registration.create"
    assert outcome.registration.receipt.seq == entry.seq
    assert list(w.store.day_registrations) == [outcome.registration.id]


@pytest.mark.parametrize(
    ("iin", "precinct_id", "now", "refusal", "named_precinct"),
    [
        (MINOR, DESIGNATED.id, ON_THE_DAY, "NOT_ELIGIBLE", None),
        (RESIDENT, DESIGNATED.id, ON_THE_DAY, "HAS_REGISTRATION", HOME.id),
        (ABROAD, DESIGNATED.id, ON_THE_DAY, "REGISTERED_ABROAD", None),
        (HOMELESS, HOME.id, ON_THE_DAY, "PRECINCT_NOT_DESIGNATED", None),
        (HOMELESS, DESIGNATED.id, ON_THE_DAY + dt.timedelta(hours=11), "REGISTRATION_CLOSED", None),
    ],
)
async def test_each_refusal_is_answered_and_audited_without_a_registration(
    iin: str, precinct_id: str, now: dt.datetime, refusal: str, named_precinct: str | None
) -> None:
    w = world(now=now, registry=voters(person(iin=MINOR, birth_date=dt.date(2012, 5, 5))))
    answers = Answers()

    answer = await register(w, iin, precinct_id=precinct_id, answers=answers)

    [outcome] = answers.outcomes
    assert isinstance(outcome, Refused)
    assert outcome.refusal.code.value == refusal
    assert outcome.refusal.precinct_id == named_precinct
    assert answer == Answer(409, refusal.encode())
    [entry] = w.store.entries
    assert (entry.kind, entry.payload["refusal"]) == ("day_registration.refuse", refusal)
    assert w.store.day_registrations == {}


async def test_a_second_registration_of_one_voter_is_refused_naming_the_first() -> None:
    w = world(now=ON_THE_DAY)
    first = Answers()
    await register(w, HOMELESS, answers=first)
    second = Answers()

    await register(w, HOMELESS, key="key-00000002", answers=second)

    [registered] = first.outcomes
    [refused] = second.outcomes
    assert isinstance(registered, Registered)
    assert isinstance(refused, Refused)
    assert refused.refusal.code.value == "ALREADY_REGISTERED"
    assert refused.registration_id == registered.registration.id
    assert len(w.store.day_registrations) == 1


async def test_a_retry_with_the_same_key_replays_the_first_answer_without_acting_again() -> None:
    w = world(now=ON_THE_DAY)
    answers = Answers()

    first = await register(w, HOMELESS, answers=answers)
    again = await register(w, HOMELESS, answers=answers)

    assert again == first
    assert len(answers.outcomes) == 1
    assert w.store.kinds() == ["day_registration.create"]


async def test_the_answer_is_remembered_with_the_registration_in_one_unit_of_work() -> None:
    w = world(now=ON_THE_DAY)

    await register(w, HOMELESS)

    assert w.storage.commits == 1
    [remembered] = w.store.idempotency.values()
    assert remembered.answer.status == 201


async def test_the_same_key_with_another_request_is_an_idempotency_conflict() -> None:
    w = world(now=ON_THE_DAY)
    await register(w, HOMELESS)

    with pytest.raises(IdempotencyConflict):
        await register(w, ABROAD)

    assert w.store.kinds() == ["day_registration.create"]


async def test_a_cancelled_registration_is_audited_and_the_voter_may_register_again() -> None:
    w = world(now=ON_THE_DAY)
    answers = Answers()
    await register(w, HOMELESS, answers=answers)
    [registered] = answers.outcomes
    assert isinstance(registered, Registered)

    view = await w.day_registrations.cancel(
        registered.registration.id, reason="entered in error", caller=MAKER, request_id="req-2"
    )
    again = Answers()
    await register(w, HOMELESS, key="key-00000002", answers=again)

    assert (view.status, view.cancelled_by, view.cancel_reason) == (
        "cancelled",
        "maker@tec",
        "entered in error",
    )
    assert view.receipt.seq == 2
    [outcome] = again.outcomes
    assert isinstance(outcome, Registered)
    assert w.store.kinds() == [
        "day_registration.create",
        "day_registration.cancel",
        "day_registration.create",
    ]


async def test_only_an_active_registration_can_be_cancelled() -> None:
    w = world(now=ON_THE_DAY)
    answers = Answers()
    await register(w, HOMELESS, answers=answers)
    [registered] = answers.outcomes
    assert isinstance(registered, Registered)
    await w.day_registrations.cancel(
        registered.registration.id, reason="entered in error", caller=MAKER, request_id="req-2"
    )

    with pytest.raises(RegistrationNotActive):
        await w.day_registrations.cancel(
            registered.registration.id, reason="again", caller=MAKER, request_id="req-3"
        )

    assert w.store.kinds() == ["day_registration.create", "day_registration.cancel"]
