"""The access log's reading of audit entries (service.domain.access_log): every entry under
the pseudonym becomes an access, whatever its kind or payload, and no account leaks."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.access_log import (
    SYSTEM_ROLE,
    AccessAction,
    Purpose,
    TrailEntry,
    access_of,
    purpose_of,
)

AT = dt.datetime(2027, 3, 21, 5, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("kind", "purpose", "action"),
    [
        ("eligibility.check", Purpose.ELIGIBILITY_CHECK, AccessAction.DECISION),
        ("precinct.check", Purpose.PRECINCT_CHECK, AccessAction.DECISION),
        ("roll.decision", Purpose.VOTER_LIST_COMPILATION, AccessAction.DECISION),
        ("day_registration.create", Purpose.DAY_REGISTRATION, AccessAction.CHANGE),
        ("day_registration.cancel.request", Purpose.DAY_REGISTRATION, AccessAction.CHANGE),
        ("day_registration.lookup", Purpose.RECORD_SEARCH, AccessAction.LOOKUP),
        ("override.approve", Purpose.MANUAL_CORRECTION, AccessAction.CHANGE),
        ("override.lookup", Purpose.RECORD_SEARCH, AccessAction.LOOKUP),
        ("list_entry.add", Purpose.LIST_ENTRY, AccessAction.CHANGE),
        ("access_log.read", Purpose.ACCESS_LOG, AccessAction.LOOKUP),
        ("absentee_certificate.issue", Purpose.LIST_ENTRY, AccessAction.CHANGE),
        ("absentee_certificate.use", Purpose.LIST_ENTRY, AccessAction.CHANGE),
        ("witness.cosign", Purpose.OTHER, AccessAction.CHANGE),
    ],
)
def test_each_kind_of_entry_is_read_as_its_purpose(
    kind: str, purpose: Purpose, action: AccessAction
) -> None:
    assert purpose_of(kind) == (purpose, action)


def test_an_access_names_roles_and_organisation_and_not_the_account() -> None:
    entry = TrailEntry(
        seq=7,
        kind="eligibility.check",
        recorded_at=AT,
        payload={
            "outcome": "eligible",
            "actor": {"sub": "clerk-4711@egov.kz", "roles": ["operator", "egov"], "org": "egov"},
        },
    )

    access = access_of(entry)

    assert (access.roles, access.organisation, access.outcome) == (
        ("egov", "operator"),
        "egov",
        "eligible",
    )
    assert "clerk-4711@egov.kz" not in repr(access)


def test_the_voter_list_compiler_is_the_system() -> None:
    entry = TrailEntry(seq=1, kind="roll.decision", recorded_at=AT, payload={"outcome": "x"})

    assert access_of(entry).roles == (SYSTEM_ROLE,)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=10,
)


@given(
    kind=st.text(alphabet="abcdefghij._", min_size=1, max_size=30),
    payload=st.dictionaries(
        st.sampled_from(["actor", "outcome", "x"]) | st.text(max_size=5), JSON, max_size=4
    ),
    account=st.text(min_size=1, max_size=20).map(lambda s: f"account:{s}"),
)
def test_any_entry_becomes_an_access_and_its_account_is_never_shown(
    kind: str, payload: dict[str, Any], account: str
) -> None:
    # Old entries, other kinds, odd payloads: each is listed, none crashes the reading.
    if isinstance(payload.get("actor"), dict):
        payload["actor"]["sub"] = account

    access = access_of(TrailEntry(seq=3, kind=kind, recorded_at=AT, payload=payload))

    assert (access.seq, access.kind) == (3, kind)
    shown = [getattr(access, f.name) for f in dataclasses.fields(access)]
    assert account not in [*shown, *access.roles]
