"""Manual overrides over in-memory ports: maker-checker for making and for revoking,
refusal, conflicts."""

from __future__ import annotations

import pytest

from service.domain.caller import Caller
from service.domain.model import Decision, OverrideKind
from service.domain.overrides import OverrideAction, OverrideReason, OverrideStatus
from service.domain.undo import UndoStatus, UndoStep
from service.errors import ErrorCode, ServiceError
from service.usecases.overrides import NewOverride, OverrideConflict, OverrideRefused, OverrideView
from service.usecases.undo import UndoRefused
from tests.unit.factories import ELECTION
from tests.unit.usecases.fakes import pseudonym
from tests.unit.usecases.world import (
    BEFORE_THE_DAY,
    CHECKER,
    MAKER,
    ORAL_AKIM,
    RESIDENT,
    SENATE,
    SPECIAL,
    World,
    world,
)

OTHER_CHECKER = Caller("second-checker@tec", MAKER.roles, None)


async def create(
    w: World, *, kind: OverrideKind = OverrideKind.ASSIGN, election_id: str = ELECTION.id
) -> OverrideView:
    return await w.overrides.create(
        NewOverride(
            raw_iin=RESIDENT,
            election_id=election_id,
            kind=kind,
            precinct_id=SPECIAL.id if kind is OverrideKind.ASSIGN else None,
            reason_code=OverrideReason.SPECIAL_INSTITUTION,
            reason_text="in hospital on voting day",
            document_ref="order 12",
            expires_on=None,
        ),
        caller=MAKER,
        request_id="req-1",
    )


async def act(
    w: World, override_id: str, action: OverrideAction, caller: Caller, reason: str | None = None
) -> OverrideView:
    return await w.overrides.act(
        override_id, action, reason=reason, caller=caller, request_id="req-2"
    )


async def test_a_new_override_is_pending_and_audited_under_the_voter_pseudonym() -> None:
    w = world()

    view = await create(w)

    assert view.status is OverrideStatus.PENDING
    assert view.subject == pseudonym(RESIDENT)
    assert view.expires_on.isoformat() == "2027-03-22"  # the day after voting day
    [entry] = w.store.entries
    assert (entry.kind, entry.subject) == ("override.create", pseudonym(RESIDENT))
    assert view.receipt is not None
    assert view.receipt.seq == entry.seq
    assert RESIDENT not in str(entry.payload)


async def test_no_override_is_made_for_a_senate_election() -> None:
    w = world()

    with pytest.raises(ServiceError) as raised:
        await create(w, kind=OverrideKind.INCLUDE, election_id=SENATE.id)

    assert raised.value.code is ErrorCode.ELECTION_NOT_BY_CITIZENS
    assert w.store.entries == []


async def test_no_override_assigns_a_voter_to_a_precinct_outside_a_local_territory() -> None:
    w = world()

    with pytest.raises(ServiceError) as raised:
        await create(w, election_id=ORAL_AKIM.id)  # SPECIAL is in Almaty

    assert raised.value.code is ErrorCode.PRECINCT_OUTSIDE_TERRITORY
    assert w.store.entries == []


async def test_the_maker_cannot_approve_their_own_override() -> None:
    w = world()
    created = await create(w)

    with pytest.raises(OverrideRefused) as raised:
        await act(w, created.id, OverrideAction.APPROVE, MAKER)

    assert raised.value.code is ErrorCode.SELF_APPROVAL_FORBIDDEN
    assert w.store.kinds() == ["override.create"]
    assert w.store.active_overrides == {}


async def test_a_different_operator_approves_and_the_override_then_places_the_voter() -> None:
    w = world()
    created = await create(w)

    approved = await act(w, created.id, OverrideAction.APPROVE, CHECKER)
    decided = await w.eligibility.check(
        raw_iin=RESIDENT, election_id=ELECTION.id, caller=MAKER, request_id="req-3"
    )

    assert approved.status is OverrideStatus.ACTIVE
    assert [(a.action, a.by) for a in approved.actions] == [("approve", "checker@tec")]
    assert w.store.kinds() == ["override.create", "override.approve", "eligibility.check"]
    assert decided.decision.override_id == created.id
    assert decided.decision.precinct_id == SPECIAL.id


async def test_a_refused_override_can_no_longer_be_approved() -> None:
    w = world()
    created = await create(w)

    refused = await act(w, created.id, OverrideAction.REFUSE, CHECKER, reason="no document")
    with pytest.raises(OverrideRefused) as raised:
        await act(w, created.id, OverrideAction.APPROVE, OTHER_CHECKER)

    assert refused.status is OverrideStatus.REFUSED
    assert raised.value.code is ErrorCode.OVERRIDE_NOT_PENDING
    assert w.store.kinds() == ["override.create", "override.refuse"]


async def approved(w: World) -> OverrideView:
    created = await create(w)
    await act(w, created.id, OverrideAction.APPROVE, CHECKER)
    return created


async def request_revocation(w: World, override_id: str, caller: Caller) -> OverrideView:
    return await w.overrides.request_revocation(
        override_id, reason="discharged", caller=caller, request_id="req-4"
    )


async def decide(
    w: World, override_id: str, step: UndoStep, caller: Caller, reason: str | None = None
) -> OverrideView:
    return await w.overrides.decide_revocation(
        override_id, step, reason=reason, caller=caller, request_id="req-5"
    )


async def check(w: World) -> Decision:
    checked = await w.eligibility.check(
        raw_iin=RESIDENT, election_id=ELECTION.id, caller=MAKER, request_id="req-3"
    )
    return checked.decision


async def test_a_revocation_request_leaves_the_override_active_and_deciding() -> None:
    w = world()
    created = await approved(w)

    requested = await request_revocation(w, created.id, MAKER)
    decision = await check(w)

    assert requested.status is OverrideStatus.ACTIVE
    [request] = requested.revocation_requests
    assert (request.status, request.requested_by, request.reason) == (
        UndoStatus.PENDING,
        "maker@tec",
        "discharged",
    )
    assert (decision.override_id, decision.precinct_id) == (created.id, SPECIAL.id)
    assert w.store.kinds()[2] == "override.revoke.request"
    assert w.store.active_overrides == {(ELECTION.id, pseudonym(RESIDENT)): created.id}


async def test_a_second_operator_approves_the_revocation_and_the_override_stops_applying() -> None:
    w = world()
    created = await approved(w)
    await request_revocation(w, created.id, MAKER)

    revoked = await decide(w, created.id, UndoStep.APPROVE, OTHER_CHECKER)
    decision = await check(w)

    assert revoked.status is OverrideStatus.REVOKED
    assert [(a.action, a.by, a.reason) for a in revoked.actions] == [
        ("approve", "checker@tec", None),
        ("revoke", "second-checker@tec", "discharged"),
    ]
    [request] = revoked.revocation_requests
    assert (request.status, request.decided_by) == (UndoStatus.APPROVED, "second-checker@tec")
    assert w.store.active_overrides == {}
    assert (decision.override_id, decision.precinct_id) == (None, "75-0001")
    assert w.store.kinds() == [
        "override.create",
        "override.approve",
        "override.revoke.request",
        "override.revoke",
        "eligibility.check",
    ]
    revoke = w.store.entries[3].payload
    assert (revoke["actor"]["sub"], revoke["requested_by"]) == ("second-checker@tec", "maker@tec")


async def test_the_requester_cannot_approve_their_own_revocation_request() -> None:
    w = world()
    created = await approved(w)
    await request_revocation(w, created.id, CHECKER)

    with pytest.raises(UndoRefused) as raised:
        await decide(w, created.id, UndoStep.APPROVE, CHECKER)

    assert raised.value.code is ErrorCode.SELF_CONFIRMATION_FORBIDDEN
    assert (await check(w)).override_id == created.id
    assert w.store.kinds()[-2:] == ["override.revoke.request", "eligibility.check"]


async def test_the_overrides_maker_may_approve_a_revocation_someone_else_requested() -> None:
    w = world()
    created = await approved(w)
    await request_revocation(w, created.id, OTHER_CHECKER)

    revoked = await decide(w, created.id, UndoStep.APPROVE, MAKER)

    assert revoked.status is OverrideStatus.REVOKED


async def test_a_refused_revocation_request_leaves_the_override_active() -> None:
    w = world()
    created = await approved(w)
    await request_revocation(w, created.id, MAKER)

    refused = await decide(w, created.id, UndoStep.REFUSE, OTHER_CHECKER, reason="still ill")
    decision = await check(w)

    assert refused.status is OverrideStatus.ACTIVE
    [request] = refused.revocation_requests
    assert (request.status, request.decision_reason) == (UndoStatus.REFUSED, "still ill")
    assert decision.override_id == created.id
    assert w.store.kinds()[2:4] == ["override.revoke.request", "override.revoke.refuse"]


async def test_a_revocation_can_be_requested_again_after_a_refusal() -> None:
    w = world()
    created = await approved(w)
    await request_revocation(w, created.id, MAKER)
    await decide(w, created.id, UndoStep.REFUSE, OTHER_CHECKER, reason="still ill")

    await request_revocation(w, created.id, MAKER)
    revoked = await decide(w, created.id, UndoStep.APPROVE, OTHER_CHECKER)

    assert revoked.status is OverrideStatus.REVOKED
    assert [r.status for r in revoked.revocation_requests] == [
        UndoStatus.REFUSED,
        UndoStatus.APPROVED,
    ]


async def test_a_second_revocation_request_while_one_is_pending_is_refused() -> None:
    w = world()
    created = await approved(w)
    await request_revocation(w, created.id, MAKER)

    with pytest.raises(UndoRefused) as raised:
        await request_revocation(w, created.id, OTHER_CHECKER)

    assert raised.value.code is ErrorCode.UNDO_PENDING
    assert w.store.kinds().count("override.revoke.request") == 1


async def test_only_an_active_override_can_be_asked_to_be_revoked() -> None:
    w = world()
    created = await create(w)

    with pytest.raises(OverrideRefused) as raised:
        await request_revocation(w, created.id, CHECKER)

    assert raised.value.code is ErrorCode.OVERRIDE_NOT_ACTIVE
    assert w.store.kinds() == ["override.create"]


async def test_there_is_no_one_step_revocation() -> None:
    w = world()
    created = await approved(w)

    with pytest.raises(ValueError, match="second operator"):
        await act(w, created.id, OverrideAction.REVOKE, CHECKER, reason="discharged")

    assert (await check(w)).override_id == created.id


async def test_of_two_operators_approving_a_revocation_at_once_one_revokes() -> None:
    w = world()
    created = await approved(w)
    await request_revocation(w, created.id, MAKER)

    def first_approval_commits() -> None:
        w.store.before_next_decision = None
        w.storage.transact_blocking(
            lambda uow: uow.undo_requests.decide(
                next(iter(w.store.undo_requests)),
                status=UndoStatus.APPROVED,
                by="third@tec",
                at=BEFORE_THE_DAY,
                reason=None,
                audit_seq=99,
            )
        )

    w.store.before_next_decision = first_approval_commits
    with pytest.raises(UndoRefused) as raised:
        await decide(w, created.id, UndoStep.APPROVE, OTHER_CHECKER)

    assert raised.value.code is ErrorCode.UNDO_NOT_PENDING
    assert "override.revoke" not in w.store.kinds()
    assert [a.action for a in w.store.override_actions] == [OverrideAction.APPROVE]


async def test_a_second_override_for_the_voter_conflicts_with_the_active_one() -> None:
    w = world()
    first = await create(w)
    await act(w, first.id, OverrideAction.APPROVE, CHECKER)
    second = await create(w, kind=OverrideKind.EXCLUDE)

    with pytest.raises(OverrideConflict) as raised:
        await act(w, second.id, OverrideAction.APPROVE, CHECKER)

    assert raised.value.extensions == {"active_override_id": first.id}
    assert w.store.active_overrides == {(ELECTION.id, pseudonym(RESIDENT)): first.id}
    assert w.store.kinds() == ["override.create", "override.approve", "override.create"]
