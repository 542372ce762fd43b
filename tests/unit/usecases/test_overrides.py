"""Manual overrides over in-memory ports: maker-checker, refusal, revocation, conflicts."""

from __future__ import annotations

import pytest

from service.domain.caller import Caller
from service.domain.model import OverrideKind
from service.domain.overrides import OverrideAction, OverrideReason, OverrideStatus
from service.errors import ErrorCode
from service.usecases.overrides import NewOverride, OverrideConflict, OverrideRefused, OverrideView
from tests.unit.factories import ELECTION
from tests.unit.usecases.fakes import pseudonym
from tests.unit.usecases.world import CHECKER, MAKER, RESIDENT, SPECIAL, World, world

OTHER_CHECKER = Caller("second-checker@tec", MAKER.roles, None)


async def create(w: World, *, kind: OverrideKind = OverrideKind.ASSIGN) -> OverrideView:
    return await w.overrides.create(
        NewOverride(
            raw_iin=RESIDENT,
            election_id=ELECTION.id,
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


async def test_a_revoked_override_stops_applying() -> None:
    w = world()
    created = await create(w)
    await act(w, created.id, OverrideAction.APPROVE, CHECKER)

    revoked = await act(w, created.id, OverrideAction.REVOKE, MAKER, reason="discharged")
    decided = await w.eligibility.check(
        raw_iin=RESIDENT, election_id=ELECTION.id, caller=MAKER, request_id="req-3"
    )

    assert revoked.status is OverrideStatus.REVOKED
    assert w.store.active_overrides == {}
    assert decided.decision.override_id is None
    assert decided.decision.precinct_id == "75-0001"


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
