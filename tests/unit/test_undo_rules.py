"""Undoing takes two people (SPEC §6, §7 as amended): the pure rule of ``service.domain.undo``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.domain.undo import UndoRefusal, UndoStep, undo_refusal

OPERATORS = st.sampled_from(["maker@tec", "checker@tec", "third@tec", "Maker@tec"])
REQUESTERS = st.none() | OPERATORS


@given(requested_by=REQUESTERS, actor=OPERATORS)
def test_a_request_is_allowed_exactly_when_none_is_open(
    requested_by: str | None, actor: str
) -> None:
    refusal = undo_refusal(UndoStep.REQUEST, requested_by=requested_by, actor=actor)

    assert refusal is (None if requested_by is None else UndoRefusal.UNDO_PENDING)


@given(step=st.sampled_from([UndoStep.APPROVE, UndoStep.REFUSE]), actor=OPERATORS)
def test_nothing_is_decided_without_an_open_request(step: UndoStep, actor: str) -> None:
    assert undo_refusal(step, requested_by=None, actor=actor) is UndoRefusal.UNDO_NOT_PENDING


@given(requested_by=OPERATORS, actor=OPERATORS)
def test_an_open_request_is_approved_only_by_someone_other_than_its_requester(
    requested_by: str, actor: str
) -> None:
    refusal = undo_refusal(UndoStep.APPROVE, requested_by=requested_by, actor=actor)

    if actor == requested_by:
        assert refusal is UndoRefusal.SELF_CONFIRMATION_FORBIDDEN
    else:
        assert refusal is None


@given(requested_by=OPERATORS, actor=OPERATORS)
def test_anyone_may_refuse_an_open_request_its_requester_withdrawing_it(
    requested_by: str, actor: str
) -> None:
    assert undo_refusal(UndoStep.REFUSE, requested_by=requested_by, actor=actor) is None
