"""SPEC §15 way 4 as pure rules: what a certificate makes of the decision, where it may be
presented (localities from KATO codes), its serial, and its window in the home precinct's
zone."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.absentee import (
    LAST_SERIAL,
    CertificateAtPrecinct,
    certificate_at,
    locality_of,
    same_locality,
    serial_text,
)
from service.domain.decision import decide, precinct_check_reasons
from service.domain.model import (
    ActiveListEntry,
    ActiveOverride,
    Basis,
    Custody,
    ElectionKind,
    ListEntryKind,
    NextStepCode,
    Outcome,
    OverrideKind,
    PrecinctKind,
    ReasonCode,
)
from service.domain.precincts import PrecinctDirectory
from service.domain.window import certificate_window
from tests.unit.factories import ELECTION, VOTING_DAY, person, precinct, registration, segment

HOME = precinct("75-0001", segments=(segment(),))
SAME_KATO = precinct("75-0002")
OTHER_DISTRICT = precinct("75-0003", kato="751210000")
ORAL = precinct("27-0001", kato="271010000", timezone="Asia/Oral")
VILLAGE = precinct("19-0001", kato="193331100")
NEXT_VILLAGE = precinct("19-0002", kato="193331200")
LONDON = precinct(
    "99-0001",
    kato="000000000",
    kind=PrecinctKind.FOREIGN,
    country="GBR",
    city="London",
    timezone="Europe/London",
)
DIRECTORY = PrecinctDirectory([HOME, SAME_KATO, OTHER_DISTRICT, ORAL, VILLAGE, LONDON])
REGISTERED = registration(house="13")

UNUSED = ActiveListEntry("cert-1", ListEntryKind.ABSENTEE_CERTIFICATE, "75-0001")
USED_IN_ORAL = replace(UNUSED, used_at="27-0001")


def run(who=None, election=ELECTION, **standing):  # type: ignore[no-untyped-def]
    return decide(
        who or person(), (REGISTERED,), election=election, directory=DIRECTORY, **standing
    )


def test_an_unused_certificate_leaves_the_voter_on_no_list() -> None:
    assert run().precinct_id == "75-0001"
    d = run(list_entry=UNUSED)
    assert (d.outcome, d.precinct_id, d.basis) == (
        Outcome.ELIGIBLE,
        None,
        Basis.ABSENTEE_CERTIFICATE,
    )
    assert [s.code for s in d.next_steps] == [NextStepCode.VOTE_WITH_ABSENTEE_CERTIFICATE]


def test_a_used_certificate_puts_the_voter_on_that_precincts_list() -> None:
    d = run(list_entry=USED_IN_ORAL)
    assert (d.precinct_id, d.basis, d.next_steps) == ("27-0001", Basis.ABSENTEE_CERTIFICATE, ())


def test_a_certificate_cures_no_bar_and_an_override_comes_first() -> None:
    barred = run(who=person(custody=Custody.SENTENCED), list_entry=UNUSED)
    assert (barred.outcome, barred.reasons) == (
        Outcome.INELIGIBLE,
        (ReasonCode.IMPRISONED_BY_SENTENCE,),
    )
    assign = ActiveOverride("ovr-1", OverrideKind.ASSIGN, "75-0002")
    d = run(override=assign, list_entry=UNUSED)
    assert (d.precinct_id, d.basis) == ("75-0002", Basis.OVERRIDE)


def test_a_local_election_judges_the_territory_by_the_home_or_the_used_precinct() -> None:
    almaty = replace(ELECTION, kind=ElectionKind.MASLIKHAT, territory=("75",))
    assert run(election=almaty, list_entry=UNUSED).outcome is Outcome.ELIGIBLE
    d = run(election=almaty, list_entry=USED_IN_ORAL)
    assert (d.outcome, d.reasons) == (Outcome.INELIGIBLE, (ReasonCode.OUTSIDE_TERRITORY,))


@pytest.mark.parametrize(
    ("checked", "expected"),
    [
        (HOME, CertificateAtPrecinct.ABSENTEE_CERTIFICATE_ISSUED),
        (SAME_KATO, CertificateAtPrecinct.ABSENTEE_SAME_LOCALITY),
        (OTHER_DISTRICT, CertificateAtPrecinct.ABSENTEE_SAME_LOCALITY),
        (ORAL, CertificateAtPrecinct.USABLE),
        (LONDON, CertificateAtPrecinct.USABLE),
    ],
)
def test_where_an_unused_certificate_may_be_presented(
    checked: object, expected: CertificateAtPrecinct
) -> None:
    assert certificate_at(UNUSED, checked=checked, home=HOME) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("checked", "expected"),
    [
        (ORAL, CertificateAtPrecinct.LISTED),
        (LONDON, CertificateAtPrecinct.ABSENTEE_CERTIFICATE_USED),
        (VILLAGE, CertificateAtPrecinct.ABSENTEE_CERTIFICATE_USED),
        (HOME, CertificateAtPrecinct.ABSENTEE_CERTIFICATE_ISSUED),
    ],
)
def test_a_used_certificate_is_used_everywhere_but_where_it_was(
    checked: object, expected: CertificateAtPrecinct
) -> None:
    found = certificate_at(USED_IN_ORAL, checked=checked, home=HOME)  # type: ignore[arg-type]
    assert found is expected


def test_service_a_reasons_for_a_holder() -> None:
    unused = run(list_entry=UNUSED)
    issued = certificate_at(UNUSED, checked=HOME, home=HOME)
    assert precinct_check_reasons(unused, precinct_id="75-0001", certificate=issued) == (
        "ABSENTEE_CERTIFICATE_ISSUED",
    )
    used = run(list_entry=USED_IN_ORAL)
    listed = certificate_at(USED_IN_ORAL, checked=ORAL, home=HOME)
    assert precinct_check_reasons(used, precinct_id="27-0001", certificate=listed) == ()
    elsewhere = certificate_at(USED_IN_ORAL, checked=LONDON, home=HOME)
    assert precinct_check_reasons(used, precinct_id="99-0001", certificate=elsewhere) == (
        "ABSENTEE_CERTIFICATE_USED",
    )


def test_localities_come_from_kato_codes() -> None:
    # A district of a city of republican significance is not a locality of its own.
    assert same_locality(HOME, OTHER_DISTRICT)
    assert same_locality(
        precinct("71-0001", kato="711110000"), precinct("71-0002", kato="711410000")
    )
    # Elsewhere the full code names a town or a village.
    assert not same_locality(VILLAGE, NEXT_VILLAGE)
    assert not same_locality(HOME, ORAL)
    assert locality_of(LONDON) == "abroad:GBR:London"


@given(st.integers(min_value=1, max_value=LAST_SERIAL))
def test_a_serial_is_five_digits_and_reads_back(serial: int) -> None:
    text = serial_text(serial)
    assert len(text) == 5
    assert text.isdigit()
    assert int(text) == serial


@pytest.mark.parametrize("serial", [0, LAST_SERIAL + 1, -3])
def test_a_serial_outside_the_range_is_refused(serial: int) -> None:
    with pytest.raises(ValueError):
        serial_text(serial)


@given(st.sampled_from(["Asia/Almaty", "Asia/Oral", "Europe/London", "Asia/Tokyo"]))
def test_the_window_runs_from_00_00_on_e_minus_15_to_18_00_on_e_minus_1_in_the_zone(
    zone: str,
) -> None:
    home = replace(HOME, timezone=zone)
    window = certificate_window(ELECTION, home)
    local = ZoneInfo(zone)
    opens = window.opens_at.astimezone(local)
    closes = window.closes_at.astimezone(local)
    assert (opens.date(), opens.time()) == (VOTING_DAY - dt.timedelta(days=15), dt.time(0, 0))
    assert (closes.date(), closes.time()) == (VOTING_DAY - dt.timedelta(days=1), dt.time(18, 0))
    assert window.contains(window.opens_at)
    assert window.contains(window.closes_at - dt.timedelta(microseconds=1))
    assert not window.contains(window.closes_at)
    assert not window.contains(window.opens_at - dt.timedelta(microseconds=1))
