"""A citizen's access log over HTTP (SPEC §17): who looked them up, decided on them or
changed their records, by role and organisation, never by account; the reading itself
audited; nobody else's accesses; only the e-government role may ask."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.domain.caller import Role
from tests.support import (
    PEOPLE,
    Keys,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
    write_country,
)

ELECTION = "2027-president"
CITIZEN = PEOPLE["eligible_permanent"]["iin"]
SOMEONE_ELSE = PEOPLE["eligible_temporary"]["iin"]
CLERK = "clerk-4711@egov.kz"
MEMBER = "member-17@pec-75-0001"
OPERATOR = "operator-3@tec-almaty"


class Desk:
    def __init__(self, client: TestClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def auth(self, role: Role, subject: str, organisation: str | None, **claims: Any) -> Any:
        bearer = token(self.keys, role, subject=subject, organisation=organisation, **claims)
        return {"Authorization": f"Bearer {bearer}"}

    def check(self, iin: str, organisation: str | None = "egov") -> None:
        response = self.client.post(
            "/v1/eligibility/check",
            json={"iin": iin, "election_id": ELECTION},
            headers=self.auth(Role.EGOV, CLERK, organisation),
        )
        assert response.status_code == 200, response.text

    def read(
        self,
        iin: str = CITIZEN,
        *,
        role: Role = Role.EGOV,
        language: str = "en",
        organisation: str | None = "egov",
        **body: Any,
    ) -> Any:
        return self.client.post(
            "/v1/me/access-log",
            json={"iin": iin, **body},
            headers={
                **self.auth(role, CLERK, organisation),
                "Accept-Language": language,
            },
        )


@pytest.fixture
def desk(database_url: str, keys: Keys, tmp_path: Path) -> Iterator[Desk]:
    country = write_country(tmp_path / "country")
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country)) as (_, client):
        yield Desk(client, keys)


def test_the_log_lists_each_access_by_role_and_organisation_never_the_account(
    desk: Desk,
) -> None:
    desk.check(CITIZEN)
    service_a = desk.client.post(
        "/v1/precinct-checks",
        json={"iin": CITIZEN, "election_id": ELECTION, "precinct_id": "75-0001"},
        headers=desk.auth(Role.COMMISSION, MEMBER, "pec", precincts=("75-0001",)),
    )
    assert service_a.status_code == 200, service_a.text
    search = desk.client.post(
        "/v1/search/overrides",
        json={"iin": CITIZEN},
        headers=desk.auth(Role.OPERATOR, OPERATOR, "tec"),
    )
    assert search.status_code == 200, search.text

    response = desk.read()

    assert response.status_code == 200, response.text
    body = response.json()
    rows = [
        (
            a["kind"],
            a["action"],
            a["purpose"]["code"],
            a["roles"],
            a["organisation"]["id"],
            a["outcome"],
        )
        for a in body["accesses"]
    ]
    # Newest first; the reference imports and anything without the pseudonym are not there.
    assert rows == [
        ("override.lookup", "lookup", "RECORD_SEARCH", ["operator"], "tec", None),
        ("precinct.check", "decision", "PRECINCT_CHECK", ["commission"], "pec", "eligible"),
        ("eligibility.check", "decision", "ELIGIBILITY_CHECK", ["egov"], "egov", "eligible"),
    ]
    assert body["accesses"][2]["organisation"]["name"] == (
        "State Corporation “Government for Citizens” (eGov)"
    )
    assert body["accesses"][2]["purpose"]["message"] == (
        "A check of the right to vote and of the precinct."
    )
    assert body["next_before"] is None
    text = response.text
    for secret in (CITIZEN, CLERK, MEMBER, OPERATOR):
        assert secret not in text


def test_reading_the_log_is_audited_and_shown_the_next_time(desk: Desk) -> None:
    desk.check(CITIZEN)
    first = desk.read().json()

    entries = desk.client.get(
        "/v1/audit/entries",
        params={"limit": 1000},
        headers=desk.auth(Role.AUDITOR, "auditor@cec", "cec"),
    ).json()["items"]
    [entry] = [e for e in entries if e["seq"] == first["audit"]["seq"]]
    body = json.loads(entry["body"])
    assert body["kind"] == "access_log.read"
    assert body["payload"]["actor"] == {"sub": CLERK, "roles": ["egov"], "org": "egov"}
    assert body["payload"]["shown"] == 1
    assert CITIZEN not in entry["body"]

    second = desk.read(language="ru").json()
    newest = second["accesses"][0]
    assert (newest["kind"], newest["purpose"]["code"], newest["action"]) == (
        "access_log.read",
        "ACCESS_LOG",
        "lookup",
    )
    assert newest["purpose"]["message"] == "Просмотр этого журнала доступа."
    assert newest["organisation"]["name"] == (
        "Государственная корпорация «Правительство для граждан» (eGov)"
    )


def test_only_the_citizens_own_accesses_are_shown(desk: Desk) -> None:
    desk.check(SOMEONE_ELSE)
    desk.check(SOMEONE_ELSE)

    body = desk.read().json()

    assert body["accesses"] == []


def test_an_access_without_an_organisation_or_of_one_not_catalogued_is_still_listed(
    desk: Desk,
) -> None:
    desk.check(CITIZEN, organisation=None)
    desk.check(CITIZEN, organisation="ministry-x")

    accesses = desk.read().json()["accesses"]

    assert [a["organisation"] for a in accesses] == [
        {"id": "ministry-x", "name": None},
        None,
    ]


def test_the_log_pages_back_with_next_before(desk: Desk) -> None:
    for _ in range(3):
        desk.check(CITIZEN)

    first = desk.read(limit=2).json()
    rest = desk.read(limit=2, before=first["next_before"]).json()

    assert len(first["accesses"]) == 2
    assert first["next_before"] is not None
    # The first reading's own entry is newer than next_before: not on the older page.
    assert [a["kind"] for a in rest["accesses"]] == ["eligibility.check"]
    assert rest["next_before"] is None
    seen = [a["at"] for a in first["accesses"] + rest["accesses"]]
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.COMMISSION, Role.AUDITOR])
def test_only_the_e_government_role_reads_a_citizens_log(desk: Desk, role: Role) -> None:
    response = desk.read(role=role)

    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"


def test_a_bad_iin_is_refused_and_nothing_is_audited(desk: Desk) -> None:
    broken = CITIZEN[:11] + str((int(CITIZEN[11]) + 1) % 10)

    response = desk.read(broken)

    assert response.status_code == 422
    assert response.json()["code"] == "IIN_CHECKSUM"
    assert broken not in response.text
    entries = desk.client.get(
        "/v1/audit/entries",
        params={"limit": 1000},
        headers=desk.auth(Role.AUDITOR, "auditor@cec", "cec"),
    ).json()["items"]
    assert all(json.loads(e["body"])["kind"] != "access_log.read" for e in entries)
