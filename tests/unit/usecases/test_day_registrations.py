"""Service B over in-memory ports: registrations, each refusal, idempotent replay, and
cancelling, which takes a request and a second operator's approval."""

from __future__ import annotations

import datetime as dt

import pytest

from service.domain.caller import Caller
from service.domain.day_registration import DayRegistrationRefusal
from service.domain.model import HolderKind, ListEntryKind, ListPlace
from service.domain.undo import UndoStatus, UndoStep
from service.errors import ErrorCode, InvalidInput
from service.usecases.day_registrations import (
    IdempotencyConflict,
    Outcome,
    Refused,
    Registered,
    RegistrationNotActive,
    RegistrationView,
)
from service.usecases.ports import Answer, ListEntryRecord
from service.usecases.undo import UndoRefused
from tests.unit.factories import ELECTION, person, registration
from tests.unit.usecases.world import (
    ABROAD,
    CHECKER,
    DESIGNATED,
    EGOV,
    HOME,
    HOMELESS,
    MAKER,
    ON_THE_DAY,
    RESIDENT,
    SPECIAL,
    World,
    homes,
    pseudonym,
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


async def test_a_voter_registered_where_no_precinct_reaches_is_told_an_operator_places_them() -> (
    None
):
    # Before, HAS_REGISTRATION with no precinct named: refused, and sent nowhere.
    uncovered = "850101300095"
    w = world(
        now=ON_THE_DAY,
        registry=voters(person(iin=uncovered)),
        addresses=homes(registration(iin=uncovered, rca=None, kato="751120000", street="Жоқ")),
    )
    answers = Answers()

    answer = await register(w, uncovered, answers=answers)

    [outcome] = answers.outcomes
    assert isinstance(outcome, Refused)
    assert (outcome.refusal.code.value, outcome.refusal.precinct_id) == (
        "ADDRESS_NOT_COVERED",
        None,
    )
    assert answer == Answer(409, b"ADDRESS_NOT_COVERED")
    [entry] = w.store.entries
    assert entry.payload["refusal"] == "ADDRESS_NOT_COVERED"
    assert w.store.day_registrations == {}


async def test_an_unknown_bin_is_refused_as_not_individual_audited_and_not_remembered() -> None:
    w = world(now=ON_THE_DAY)
    answers = Answers()

    with pytest.raises(InvalidInput) as raised:
        await register(w, "850140300117", answers=answers)

    assert raised.value.code is ErrorCode.NOT_INDIVIDUAL
    assert answers.outcomes == []
    [entry] = w.store.entries
    assert (entry.kind, entry.payload["refusal"]) == ("day_registration.refuse", "NOT_INDIVIDUAL")
    assert w.store.day_registrations == {}


async def test_a_registry_person_with_a_bin_shaped_number_registers() -> None:
    w = world(now=ON_THE_DAY, registry=voters(person(iin="850140300117")))

    answer = await register(w, "850140300117")

    assert answer.status == 201


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


async def registered(w: World) -> str:
    answers = Answers()
    await register(w, HOMELESS, answers=answers)
    [outcome] = answers.outcomes
    assert isinstance(outcome, Registered)
    return outcome.registration.id


async def request_cancellation(w: World, registration_id: str, caller: Caller = MAKER) -> None:
    await w.day_registrations.request_cancellation(
        registration_id, reason="entered in error", caller=caller, request_id="req-2"
    )


async def decide(
    w: World, registration_id: str, step: UndoStep, caller: Caller, reason: str | None = None
) -> RegistrationView:
    return await w.day_registrations.decide_cancellation(
        registration_id, step, reason=reason, caller=caller, request_id="req-3"
    )


async def test_a_cancellation_request_leaves_the_registration_active_and_the_voter_held() -> None:
    w = world(now=ON_THE_DAY)
    registration_id = await registered(w)

    view = await w.day_registrations.request_cancellation(
        registration_id, reason="entered in error", caller=MAKER, request_id="req-2"
    )
    again = Answers()
    await register(w, HOMELESS, key="key-00000002", answers=again)

    assert view.status == "active"
    assert view.cancelled_at is None
    [request] = view.cancellation_requests
    assert (request.status, request.requested_by, request.reason) == (
        UndoStatus.PENDING,
        "maker@tec",
        "entered in error",
    )
    [outcome] = again.outcomes
    assert isinstance(outcome, Refused)
    assert outcome.refusal.code is DayRegistrationRefusal.ALREADY_REGISTERED
    assert w.store.kinds()[:2] == ["day_registration.create", "day_registration.cancel.request"]
    assert w.store.entries[1].payload["undo_request_id"] == request.id


async def test_a_second_operator_approves_and_the_voter_may_register_again() -> None:
    w = world(now=ON_THE_DAY)
    registration_id = await registered(w)
    await request_cancellation(w, registration_id, MAKER)

    view = await decide(w, registration_id, UndoStep.APPROVE, CHECKER)
    again = Answers()
    await register(w, HOMELESS, key="key-00000002", answers=again)

    assert (view.status, view.cancelled_by, view.cancel_reason) == (
        "cancelled",
        "checker@tec",
        "entered in error",
    )
    [request] = view.cancellation_requests
    assert (request.status, request.decided_by) == (UndoStatus.APPROVED, "checker@tec")
    [outcome] = again.outcomes
    assert isinstance(outcome, Registered)
    assert w.store.kinds() == [
        "day_registration.create",
        "day_registration.cancel.request",
        "day_registration.cancel",
        "day_registration.create",
    ]
    cancel = w.store.entries[2].payload
    assert (cancel["actor"]["sub"], cancel["requested_by"]) == ("checker@tec", "maker@tec")
    assert view.receipt.seq == 3


async def test_the_requester_cannot_approve_their_own_cancellation_request() -> None:
    w = world(now=ON_THE_DAY)
    registration_id = await registered(w)
    await request_cancellation(w, registration_id, MAKER)

    with pytest.raises(UndoRefused) as raised:
        await decide(w, registration_id, UndoStep.APPROVE, MAKER)

    assert raised.value.code is ErrorCode.SELF_CONFIRMATION_FORBIDDEN
    assert w.store.day_registrations[registration_id].cancelled_at is None
    assert w.store.kinds() == ["day_registration.create", "day_registration.cancel.request"]


async def test_the_registering_clerk_is_no_obstacle_to_approving_someone_elses_request() -> None:
    w = world(now=ON_THE_DAY)
    registration_id = await registered(w)
    await request_cancellation(w, registration_id, CHECKER)

    view = await decide(w, registration_id, UndoStep.APPROVE, MAKER)

    assert (view.status, view.cancelled_by) == ("cancelled", "maker@tec")


async def test_a_refused_cancellation_request_leaves_the_registration_active() -> None:
    w = world(now=ON_THE_DAY)
    registration_id = await registered(w)
    await request_cancellation(w, registration_id, MAKER)

    view = await decide(w, registration_id, UndoStep.REFUSE, CHECKER, reason="clerk was right")
    again = Answers()
    await register(w, HOMELESS, key="key-00000002", answers=again)

    assert (view.status, view.cancelled_at) == ("active", None)
    [request] = view.cancellation_requests
    assert (request.status, request.decided_by, request.decision_reason) == (
        UndoStatus.REFUSED,
        "checker@tec",
        "clerk was right",
    )
    [outcome] = again.outcomes
    assert isinstance(outcome, Refused)
    assert w.store.kinds()[:3] == [
        "day_registration.create",
        "day_registration.cancel.request",
        "day_registration.cancel.refuse",
    ]


async def test_the_requester_may_withdraw_a_request_and_a_new_one_may_follow() -> None:
    w = world(now=ON_THE_DAY)
    registration_id = await registered(w)
    await request_cancellation(w, registration_id, MAKER)

    await decide(w, registration_id, UndoStep.REFUSE, MAKER, reason="asked too soon")
    await request_cancellation(w, registration_id, MAKER)
    view = await decide(w, registration_id, UndoStep.APPROVE, CHECKER)

    assert view.status == "cancelled"
    assert [r.status for r in view.cancellation_requests] == [
        UndoStatus.REFUSED,
        UndoStatus.APPROVED,
    ]


async def test_a_second_request_while_one_is_pending_is_refused() -> None:
    w = world(now=ON_THE_DAY)
    registration_id = await registered(w)
    await request_cancellation(w, registration_id, MAKER)

    with pytest.raises(UndoRefused) as raised:
        await request_cancellation(w, registration_id, CHECKER)

    assert raised.value.code is ErrorCode.UNDO_PENDING
    assert w.store.kinds() == ["day_registration.create", "day_registration.cancel.request"]


async def test_a_decision_with_no_request_pending_is_refused() -> None:
    w = world(now=ON_THE_DAY)
    registration_id = await registered(w)

    for step in (UndoStep.APPROVE, UndoStep.REFUSE):
        with pytest.raises(UndoRefused) as raised:
            await decide(w, registration_id, step, CHECKER, reason="no")
        assert raised.value.code is ErrorCode.UNDO_NOT_PENDING

    assert w.store.kinds() == ["day_registration.create"]


async def test_only_an_active_registration_can_be_cancelled() -> None:
    w = world(now=ON_THE_DAY)
    registration_id = await registered(w)
    await request_cancellation(w, registration_id, MAKER)
    await decide(w, registration_id, UndoStep.APPROVE, CHECKER)

    with pytest.raises(RegistrationNotActive):
        await request_cancellation(w, registration_id, MAKER)

    assert w.store.kinds() == [
        "day_registration.create",
        "day_registration.cancel.request",
        "day_registration.cancel",
    ]


async def test_of_two_operators_approving_at_once_one_cancels_and_the_other_is_refused() -> None:
    w = world(now=ON_THE_DAY)
    registration_id = await registered(w)
    await request_cancellation(w, registration_id, MAKER)

    def first_approval_commits() -> None:
        w.store.before_next_decision = None
        w.storage.transact_blocking(
            lambda uow: uow.undo_requests.decide(
                next(iter(w.store.undo_requests)),
                status=UndoStatus.APPROVED,
                by="third@tec",
                at=ON_THE_DAY,
                reason=None,
                audit_seq=99,
            )
        )

    w.store.before_next_decision = first_approval_commits
    with pytest.raises(UndoRefused) as raised:
        await decide(w, registration_id, UndoStep.APPROVE, CHECKER)

    assert raised.value.code is ErrorCode.UNDO_NOT_PENDING
    [request] = w.store.undo_requests.values()
    assert request.decided_by == "third@tec"
    assert "day_registration.cancel" not in w.store.kinds()


def _on_presence_list(w: World, iin: str) -> str:
    entry = ListEntryRecord(
        id="entry-1",
        election_id=ELECTION.id,
        subject=pseudonym(iin),
        kind=ListEntryKind.SPECIAL_PRESENCE,
        precinct_id=SPECIAL.id,
        document_ref="hospital-7",
        created_by="operator",
        created_at=ON_THE_DAY,
        audit_seq=0,
    )
    w.store.list_entries[entry.id] = entry
    return entry.id


@pytest.mark.parametrize("iin", [HOMELESS, RESIDENT])
async def test_a_voter_on_a_presence_list_is_refused_already_on_list_naming_the_entry(
    iin: str,
) -> None:
    w = world(now=ON_THE_DAY)
    entry_id = _on_presence_list(w, iin)
    answers = Answers()

    answer = await register(w, iin, answers=answers)

    [outcome] = answers.outcomes
    assert isinstance(outcome, Refused)
    assert outcome.refusal.code is DayRegistrationRefusal.ALREADY_ON_LIST
    assert outcome.refusal.holder == ListPlace(HolderKind.LIST_ENTRY, entry_id)
    assert answer == Answer(409, b"ALREADY_ON_LIST")
    [entry] = w.store.entries
    assert entry.kind == "day_registration.refuse"
    assert entry.payload["holder"] == {"kind": "list_entry", "id": entry_id}
    assert w.store.day_registrations == {}
