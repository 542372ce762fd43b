"""The compile's fast paths give the same bytes as the audit log's own functions."""

from __future__ import annotations

import datetime as dt
import string

import orjson
from hypothesis import given
from hypothesis import strategies as st

from service.audit.chain import canonical_body, format_instant
from service.audit.pseudonym import pseudonymise
from service.domain.model import Basis, Decision, NextStep, NextStepCode, Outcome, ReasonCode
from service.roll.decider import Pseudonyms, decision_payload, render_body
from service.roll.model import DECISION_KIND

precinct_ids = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=32)
instants = st.datetimes(
    min_value=dt.datetime(1990, 1, 1),
    max_value=dt.datetime(2100, 1, 1),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5))]),
)
decisions = st.builds(
    Decision,
    outcome=st.sampled_from(Outcome),
    reasons=st.lists(st.sampled_from(ReasonCode), unique=True).map(lambda r: tuple(sorted(r))),
    precinct_id=st.none() | precinct_ids,
    basis=st.none() | st.sampled_from(Basis),
    next_steps=st.lists(
        st.builds(NextStep, st.sampled_from(NextStepCode), st.tuples(precinct_ids)), max_size=2
    ).map(tuple),
    ruleset=st.sampled_from(["kz-1995.1", "kz-2026.1"]),
    registry_data_as_of=st.none() | instants,
    override_id=st.none() | st.uuids().map(str),
)


@given(
    decision=decisions,
    seq=st.integers(min_value=1, max_value=10**12),
    recorded_at=instants,
    subject=st.binary(min_size=32, max_size=32).map(lambda b: "v1:" + b.hex()),
    run_id=st.uuids().map(str),
    election_id=st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=64),
)
def test_a_rendered_decision_body_is_the_canonical_body(
    decision: Decision,
    seq: int,
    recorded_at: dt.datetime,
    subject: str,
    run_id: str,
    election_id: str,
) -> None:
    payload = decision_payload(decision, run_id=run_id, election_id=election_id)
    payload_json = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()

    rendered = render_body(
        payload_json, recorded_at=format_instant(recorded_at), seq=seq, subject=subject
    )

    assert rendered == canonical_body(
        seq=seq, kind=DECISION_KIND, recorded_at=recorded_at, subject=subject, payload=payload
    )


@given(
    key=st.binary(min_size=1, max_size=200),
    iin=st.text(string.digits, min_size=12, max_size=12),
)
def test_the_fast_pseudonym_is_the_service_pseudonym(key: bytes, iin: str) -> None:
    assert Pseudonyms(key).of(iin) == pseudonymise(iin, key=key)


def test_a_payload_holds_codes_and_ids_only() -> None:
    decision = Decision(
        Outcome.ELIGIBLE,
        (),
        "75-0001",
        Basis.PERMANENT_REGISTRATION,
        (),
        "kz-2026.1",
        dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )

    payload = decision_payload(decision, run_id="r", election_id="e")

    assert payload == {
        "run_id": "r",
        "election_id": "e",
        "outcome": "eligible",
        "reasons": [],
        "precinct_id": "75-0001",
        "basis": "permanent_registration",
        "next_steps": [],
        "ruleset": "kz-2026.1",
        "registry_data_as_of": "2026-11-01T00:00:00+00:00",
        "override_id": None,
    }
