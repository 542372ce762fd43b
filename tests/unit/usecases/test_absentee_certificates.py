"""Absentee certificates over in-memory ports: serials in order, one per voter and election
even after a two-operator cancellation, and a used certificate not cancelled."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from service.clock import FixedClock
from service.domain.undo import UndoStep
from service.errors import ErrorCode
from service.usecases.absentee import AbsenteeCertificateService
from service.usecases.list_entries import CertificateUsed, EntryRefused
from tests.unit.usecases.world import CHECKER, HOMELESS, MAKER, RESIDENT, World, world

# Inside the default window (from 00:00 on E-15, 2027-03-06, Almaty time).
IN_THE_WINDOW = dt.datetime(2027, 3, 10, 7, 0, tzinfo=dt.UTC)


def service(w: World) -> AbsenteeCertificateService:
    return AbsenteeCertificateService(
        eligibility=w.eligibility,
        storage=w.storage,
        reference=w.reference,
        clock=FixedClock(IN_THE_WINDOW),
    )


async def issue(s: AbsenteeCertificateService, iin: str = RESIDENT):  # type: ignore[no-untyped-def]
    return await s.issue(
        election_id="2027-president",
        raw_iin=iin,
        document_ref="application 1",
        caller=MAKER,
        request_id="req-1",
    )


async def test_a_cancelled_certificate_still_refuses_a_second() -> None:
    w = world(now=IN_THE_WINDOW)
    s = service(w)
    first = await issue(s)
    assert (first.serial, first.issued_by_precinct_id, first.status) == (
        "00001",
        "75-0001",
        "active",
    )

    await s.request_cancellation(first.id, reason="stays home", caller=MAKER, request_id="r2")
    cancelled = await s.decide_cancellation(
        first.id, UndoStep.APPROVE, reason=None, caller=CHECKER, request_id="r3"
    )
    assert cancelled.status == "cancelled"
    with pytest.raises(EntryRefused) as refused:
        await issue(s)
    assert refused.value.code is ErrorCode.ABSENTEE_CERTIFICATE_ALREADY_ISSUED
    assert refused.value.extensions["certificate_id"] == first.id
    assert w.store.kinds().count("absentee_certificate.refuse") == 1


async def test_a_voter_on_no_list_gets_none_and_the_refusal_is_audited() -> None:
    w = world(now=IN_THE_WINDOW)
    with pytest.raises(EntryRefused) as refused:
        await issue(service(w), HOMELESS)
    assert refused.value.code is ErrorCode.NOT_ON_A_LIST
    assert w.store.kinds() == ["absentee_certificate.refuse"]


async def test_a_used_certificate_is_not_cancelled() -> None:
    w = world(now=IN_THE_WINDOW)
    s = service(w)
    issued = await issue(s)
    # Presented in Oral (Service A's part, as the storage would record it).
    certificates = w.store.absentee_certificates
    certificates[issued.id] = replace(certificates[issued.id], used_at_precinct_id="27-0001")
    with pytest.raises(CertificateUsed):
        await s.request_cancellation(issued.id, reason="lost", caller=MAKER, request_id="r2")
    shown = await s.get(issued.id)
    assert (shown.status, shown.used_at_precinct_id) == ("used", "27-0001")
