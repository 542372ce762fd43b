"""Service A over HTTP: two commission members check a voter against their precinct."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.domain.caller import Role
from tests.support import ELECTION_ID, PEOPLE, Keys, token


def precinct_check(
    client: TestClient, keys: Keys, who: str, precinct: str, role: Role = Role.COMMISSION
) -> Any:
    return client.post(
        "/v1/precinct-checks",
        json={"iin": PEOPLE[who]["iin"], "election_id": ELECTION_ID, "precinct_id": precinct},
        headers={
            # A member of this precinct's commission: the token names it (SPEC §15).
            "Authorization": f"Bearer {token(keys, role, precincts=(precinct,))}",
            "Accept-Language": "en",
        },
    )


@pytest.mark.parametrize(
    ("who", "precinct", "included", "reasons", "belongs_to"),
    [
        ("eligible_permanent", "75-0001", True, [], "75-0001"),
        ("eligible_permanent", "75-0002", False, ["NOT_IN_PRECINCT"], "75-0001"),
        ("eligible_consular", "75-0001", False, ["NOT_IN_PRECINCT"], "99-0001"),
        ("no_registration", "75-0002", False, ["NO_PRECINCT"], None),
        ("uncovered_address", "75-0001", False, ["NO_PRECINCT"], None),
        ("under_18", "75-0002", False, ["UNDER_18"], None),
        ("not_citizen", "75-0001", False, ["NOT_CITIZEN"], None),
    ],
)
def test_included_only_when_eligible_and_this_is_the_voters_precinct(
    client: TestClient,
    keys: Keys,
    who: str,
    precinct: str,
    included: bool,
    reasons: list[str],
    belongs_to: str | None,
) -> None:
    response = precinct_check(client, keys, who, precinct)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["included"] is included
    assert [r["code"] for r in answer["reasons"]] == reasons
    assert (answer["belongs_to"] or {}).get("id") == belongs_to
    assert all(r["message"] for r in answer["reasons"])


def test_precinct_checks_are_audited(client: TestClient, keys: Keys) -> None:
    answer = precinct_check(client, keys, "eligible_permanent", "75-0002").json()
    entries = client.get(
        "/v1/audit/entries",
        params={"after_seq": answer["audit"]["seq"] - 1, "limit": 1},
        headers={"Authorization": f"Bearer {token(keys, Role.AUDITOR)}"},
    ).json()["items"]
    body = json.loads(entries[0]["body"])
    assert body["kind"] == "precinct.check"
    assert body["payload"]["included"] is False
    assert body["payload"]["checked_precinct_id"] == "75-0002"


def test_only_commission_members_use_service_a(client: TestClient, keys: Keys) -> None:
    response = precinct_check(client, keys, "eligible_permanent", "75-0001", role=Role.EGOV)
    assert response.status_code == 403


def test_unknown_precinct_is_404(client: TestClient, keys: Keys) -> None:
    response = precinct_check(client, keys, "eligible_permanent", "75-9999")
    assert (response.status_code, response.json()["code"]) == (404, "PRECINCT_NOT_FOUND")
