"""The role table of limits and the rule for lifting a hold (service/domain/limits.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.domain.caller import Role
from service.domain.limits import (
    NO_ROLE,
    ROLE_LIMITS,
    HoldRefusal,
    governing_role,
    lift_refusal,
    role_limits,
)

roles = st.sampled_from(list(Role))
role_sets = st.frozensets(roles, min_size=1)
counts = st.integers(min_value=1, max_value=10**6)
per_role = st.dictionaries(roles, counts)


def test_people_get_far_less_than_the_e_gov_front_end_and_only_it_is_never_held() -> None:
    egov = ROLE_LIMITS[Role.EGOV]
    for role in (Role.COMMISSION, Role.OPERATOR):
        person = ROLE_LIMITS[role]
        assert person.per_minute * 100 <= egov.per_minute
        assert person.holds
        # Within an hour at its own pace, a person's account can reach its hold.
        assert person.hold_after_voters < person.per_minute * 60
    assert not egov.holds
    assert set(ROLE_LIMITS) == set(Role)


@given(per_minute=st.none() | counts, by_role=per_role, threshold=st.none() | counts)
def test_a_per_role_setting_wins_over_one_for_every_role_which_wins_over_the_table(
    per_minute: int | None, by_role: dict[Role, int], threshold: int | None
) -> None:
    table = role_limits(
        per_minute=per_minute,
        per_minute_by_role=by_role,
        hold_after_voters=threshold,
        hold_after_voters_by_role=by_role,
    )
    for role, default in ROLE_LIMITS.items():
        expected_minute = by_role.get(role, per_minute or default.per_minute)
        expected_voters = by_role.get(role, threshold or default.hold_after_voters)
        assert table[role].per_minute == expected_minute
        assert table[role].hold_after_voters == expected_voters
        assert table[role].holds == default.holds


@given(held=role_sets, by_role=per_role)
def test_the_governing_role_is_one_of_the_callers_with_the_largest_per_minute_limit(
    held: frozenset[Role], by_role: dict[Role, int]
) -> None:
    table = role_limits(per_minute_by_role=by_role)
    name, limits = governing_role(held, table)
    assert Role(name) in held
    assert limits == table[Role(name)]
    assert limits.per_minute == max(table[role].per_minute for role in held)
    assert governing_role(sorted(held, reverse=True), table) == (name, limits)


def test_a_tie_goes_to_the_role_that_is_never_held() -> None:
    table = role_limits(per_minute=50)
    assert governing_role({Role.COMMISSION, Role.EGOV}, table)[0] == "egov"


def test_a_caller_without_roles_gets_the_least_any_role_gets() -> None:
    assert governing_role(frozenset(), ROLE_LIMITS) == (NO_ROLE, ROLE_LIMITS[Role.COMMISSION])
    assert governing_role(frozenset(), role_limits(per_minute=600))[1].per_minute == 600


def test_an_operator_may_lift_a_hold_on_another_account() -> None:
    assert lift_refusal(held_account="walker@pec", is_active=True, actor="op@tec") is None


def test_no_one_lifts_a_hold_on_their_own_account() -> None:
    refusal = lift_refusal(held_account="op@tec", is_active=True, actor="op@tec")
    assert refusal is HoldRefusal.SELF_LIFT_FORBIDDEN


def test_a_lifted_hold_cannot_be_lifted_again() -> None:
    refusal = lift_refusal(held_account="walker@pec", is_active=False, actor="op@tec")
    assert refusal is HoldRefusal.HOLD_NOT_ACTIVE
