"""The eligibility check and Service A over in-memory ports: what the caller is told, and
what the audit log keeps."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from service.domain.model import Custody, ReasonCode
from service.domain.overrides import OverrideAction
from service.errors import ErrorCode, InvalidInput, NotFound, ServiceError, UpstreamUnavailable
from service.usecases.ports import DayRegistrationRecord, OverrideActionRecord, OverrideRecord
from tests.unit.factories import ELECTION, person
from tests.unit.usecases.fakes import Registry, pseudonym
from tests.unit.usecases.world import (
    BEFORE_THE_DAY,
    COMMISSION,
    EGOV,
    HOMELESS,
    ORAL_AKIM,
    RESIDENT,
    SENATE,
    SPECIAL,
    voters,
    world,
)

UNDERAGE = "900101300811"
# Digit 5 is 4: a BIN's shape, which since 2013 a person's IIN may have too (SPEC §15).
BIN_SHAPED = "850140300117"
UNKNOWN = "850101300095"


async def test_registered_voter_is_eligible_at_the_precinct_of_the_address() -> None:
    w = world()

    recorded = await w.eligibility.check(
        raw_iin=RESIDENT, election_id=ELECTION.id, caller=EGOV, request_id="req-1"
    )

    assert recorded.decision.outcome.value == "eligible"
    assert recorded.decision.precinct_id == "75-0001"
    assert recorded.decision.basis is not None
    assert recorded.decision.basis.value == "permanent_registration"
    [entry] = w.store.entries
    assert (entry.kind, entry.subject) == ("eligibility.check", pseudonym(RESIDENT))
    assert entry.payload["outcome"] == "eligible"
    assert entry.payload["actor"] == {"sub": "clerk@egov", "roles": ["egov"]}
    assert recorded.receipt.seq == entry.seq
    assert w.store.decisions[recorded.decision_id] == ("eligible", entry.seq)


async def test_every_reason_that_applies_is_given_and_audited() -> None:
    minor_foreigner = person(iin=UNDERAGE, citizenship="RUS", birth_date=dt.date(2012, 5, 5))
    w = world(registry=voters(minor_foreigner))

    recorded = await w.eligibility.check(
        raw_iin=UNDERAGE, election_id=ELECTION.id, caller=EGOV, request_id="req-1"
    )

    assert recorded.decision.outcome.value == "ineligible"
    assert [r.value for r in recorded.decision.reasons] == ["NOT_CITIZEN", "UNDER_18"]
    assert recorded.decision.precinct_id is None
    assert w.store.entries[0].payload["reasons"] == ["NOT_CITIZEN", "UNDER_18"]


async def test_an_upstream_fault_is_audited_as_undetermined_and_reraised_with_its_receipt() -> None:
    w = world(registry=Registry(fault="timeout"))

    with pytest.raises(UpstreamUnavailable) as raised:
        await w.eligibility.check(
            raw_iin=RESIDENT, election_id=ELECTION.id, caller=EGOV, request_id="req-1"
        )

    [entry] = w.store.entries
    assert entry.payload["outcome"] == "undetermined"
    assert (entry.payload["upstream"], entry.payload["failure"]) == ("registry", "timeout")
    assert raised.value.extensions["audit"]["seq"] == entry.seq
    assert w.store.decisions[raised.value.extensions["decision_id"]] == ("undetermined", 1)


async def test_an_active_override_places_the_voter_and_is_named_in_the_decision() -> None:
    w = world()
    subject = pseudonym(RESIDENT)
    w.store.overrides["ov-1"] = OverrideRecord(
        id="ov-1",
        election_id=ELECTION.id,
        subject=subject,
        kind="assign",
        precinct_id=SPECIAL.id,
        reason_code="SPECIAL_INSTITUTION",
        reason_text="in hospital on voting day",
        document_ref="order 12",
        expires_on=dt.date(2027, 3, 22),
        created_by="maker@tec",
        created_at=BEFORE_THE_DAY,
        audit_seq=0,
    )
    w.store.override_actions.append(
        OverrideActionRecord("ov-1", OverrideAction.APPROVE, "checker@tec", BEFORE_THE_DAY, None, 0)
    )
    w.store.active_overrides[(ELECTION.id, subject)] = "ov-1"

    recorded = await w.eligibility.check(
        raw_iin=RESIDENT, election_id=ELECTION.id, caller=EGOV, request_id="req-1"
    )

    assert recorded.decision.precinct_id == SPECIAL.id
    assert recorded.decision.basis is not None
    assert recorded.decision.basis.value == "override"
    assert recorded.decision.override_id == "ov-1"


async def test_a_day_registration_places_a_voter_registered_nowhere() -> None:
    w = world()
    w.store.day_registrations["reg-1"] = DayRegistrationRecord(
        id="reg-1",
        election_id=ELECTION.id,
        subject=pseudonym(HOMELESS),
        precinct_id="75-0002",
        registered_by="clerk@egov",
        registered_at=BEFORE_THE_DAY,
        lapses_at=BEFORE_THE_DAY + dt.timedelta(days=30),
        audit_seq=0,
    )

    recorded = await w.eligibility.check(
        raw_iin=HOMELESS, election_id=ELECTION.id, caller=EGOV, request_id="req-1"
    )

    assert recorded.decision.precinct_id == "75-0002"
    assert recorded.decision.basis is not None
    assert recorded.decision.basis.value == "day_registration"


async def test_precinct_check_includes_a_voter_of_that_precinct() -> None:
    w = world()

    result = await w.eligibility.check_precinct(
        raw_iin=RESIDENT,
        election_id=ELECTION.id,
        precinct_id="75-0001",
        caller=COMMISSION,
        request_id="req-1",
    )

    assert result.included
    assert result.reasons == ()
    [entry] = w.store.entries
    assert entry.kind == "precinct.check"
    assert entry.payload["included"] is True
    assert result.receipt.seq == entry.seq


async def test_precinct_check_refuses_a_voter_of_another_precinct_and_names_theirs() -> None:
    w = world()

    result = await w.eligibility.check_precinct(
        raw_iin=RESIDENT,
        election_id=ELECTION.id,
        precinct_id="75-0002",
        caller=COMMISSION,
        request_id="req-1",
    )

    assert not result.included
    assert result.reasons == ("NOT_IN_PRECINCT",)
    assert result.decision.precinct_id == "75-0001"
    assert w.store.entries[0].payload["refusal_reasons"] == ["NOT_IN_PRECINCT"]


async def test_precinct_check_of_an_unknown_precinct_is_not_found_and_not_audited() -> None:
    w = world()

    with pytest.raises(NotFound) as raised:
        await w.eligibility.check_precinct(
            raw_iin=RESIDENT,
            election_id=ELECTION.id,
            precinct_id="99-9999",
            caller=COMMISSION,
            request_id="req-1",
        )

    assert raised.value.code is ErrorCode.PRECINCT_NOT_FOUND
    assert w.store.entries == []


# SPEC §15: the BIN rule asks the registry first; a person it does not know may apply.


async def test_a_person_the_registry_holds_is_decided_whatever_their_digit_5() -> None:
    w = world(registry=voters(person(iin=BIN_SHAPED)))

    recorded = await w.eligibility.check(
        raw_iin=BIN_SHAPED, election_id=ELECTION.id, caller=EGOV, request_id="req-1"
    )

    assert recorded.decision.outcome.value == "eligible"
    [entry] = w.store.entries
    assert entry.payload["outcome"] == "eligible"


async def test_a_bin_the_registry_does_not_know_is_refused_as_not_individual_and_audited() -> None:
    w = world()

    with pytest.raises(InvalidInput) as raised:
        await w.eligibility.check(
            raw_iin=BIN_SHAPED, election_id=ELECTION.id, caller=EGOV, request_id="req-1"
        )

    assert raised.value.code is ErrorCode.NOT_INDIVIDUAL
    [entry] = w.store.entries
    assert (entry.kind, entry.subject) == ("eligibility.check", pseudonym(BIN_SHAPED))
    assert (entry.payload["outcome"], entry.payload["refusal"]) == ("refused", "NOT_INDIVIDUAL")
    assert raised.value.extensions["audit"]["seq"] == entry.seq
    assert w.store.decisions[raised.value.extensions["decision_id"]] == ("refused", entry.seq)


async def test_a_bin_shaped_number_is_undetermined_while_the_registry_cannot_answer() -> None:
    w = world(registry=Registry(fault="timeout"))

    with pytest.raises(UpstreamUnavailable):
        await w.eligibility.check(
            raw_iin=BIN_SHAPED, election_id=ELECTION.id, caller=EGOV, request_id="req-1"
        )

    [entry] = w.store.entries
    assert entry.payload["outcome"] == "undetermined"


async def test_service_a_refuses_an_unknown_bin_as_not_individual_under_its_own_kind() -> None:
    w = world()

    with pytest.raises(InvalidInput) as raised:
        await w.eligibility.check_precinct(
            raw_iin=BIN_SHAPED,
            election_id=ELECTION.id,
            precinct_id="75-0001",
            caller=COMMISSION,
            request_id="req-1",
        )

    assert raised.value.code is ErrorCode.NOT_INDIVIDUAL
    [entry] = w.store.entries
    assert (entry.kind, entry.payload["refusal"]) == ("precinct.check", "NOT_INDIVIDUAL")
    assert entry.payload["checked_precinct_id"] == "75-0001"


async def test_a_number_the_registry_does_not_know_is_not_found_and_told_to_apply() -> None:
    w = world()

    recorded = await w.eligibility.check(
        raw_iin=UNKNOWN, election_id=ELECTION.id, caller=EGOV, request_id="req-1"
    )

    assert [r.value for r in recorded.decision.reasons] == ["NOT_FOUND"]
    assert [s.code.value for s in recorded.decision.next_steps] == ["APPLY_TO_COMMISSION"]
    assert w.store.entries[0].payload["next_steps"] == ["APPLY_TO_COMMISSION"]


async def test_a_sentence_served_before_voting_day_no_longer_bars_the_voter() -> None:
    served = person(
        iin=RESIDENT,
        custody=Custody.SENTENCED,
        custody_since=dt.date(2024, 1, 10),
        sentence_ends_on=ELECTION.voting_day - dt.timedelta(days=1),
    )
    w = world(registry=voters(served))

    recorded = await w.eligibility.check(
        raw_iin=RESIDENT, election_id=ELECTION.id, caller=EGOV, request_id="req-1"
    )

    assert recorded.decision.outcome.value == "eligible"
    assert recorded.decision.precinct_id == "75-0001"


async def test_a_check_for_a_senate_election_asks_no_upstream_and_is_not_audited() -> None:
    # An upstream that fails when asked: the refusal comes before any lookup.
    w = world(registry=Registry(fault="timeout"))

    with pytest.raises(ServiceError) as raised:
        await w.eligibility.check(
            raw_iin=RESIDENT, election_id=SENATE.id, caller=EGOV, request_id="req-1"
        )

    assert raised.value.code is ErrorCode.ELECTION_NOT_BY_CITIZENS
    assert w.store.entries == []


async def test_precinct_check_for_a_precinct_the_member_does_not_serve_is_refused() -> None:
    w = world()
    member_of_another = replace(COMMISSION, precincts=frozenset({"75-0002"}))

    with pytest.raises(ServiceError) as raised:
        await w.eligibility.check_precinct(
            raw_iin=RESIDENT,
            election_id=ELECTION.id,
            precinct_id="75-0001",
            caller=member_of_another,
            request_id="req-1",
        )

    assert raised.value.code is ErrorCode.PRECINCT_NOT_SERVED
    assert w.store.entries == []


async def test_precinct_check_at_a_precinct_outside_a_local_territory_is_refused() -> None:
    w = world()

    with pytest.raises(ServiceError) as raised:
        await w.eligibility.check_precinct(
            raw_iin=RESIDENT,
            election_id=ORAL_AKIM.id,
            precinct_id="75-0001",
            caller=COMMISSION,
            request_id="req-1",
        )

    assert raised.value.code is ErrorCode.PRECINCT_OUTSIDE_TERRITORY
    assert w.store.entries == []


async def test_a_check_for_a_local_election_outside_its_territory_is_ineligible() -> None:
    w = world()

    recorded = await w.eligibility.check(
        raw_iin=RESIDENT, election_id=ORAL_AKIM.id, caller=EGOV, request_id="req-1"
    )

    assert recorded.decision.reasons == (ReasonCode.OUTSIDE_TERRITORY,)
    assert w.store.entries[0].payload["reasons"] == ["OUTSIDE_TERRITORY"]
