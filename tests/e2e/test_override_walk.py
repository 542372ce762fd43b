"""The operators' walk of issue 3, through `voterctl` against a real HTTP server.

An ineligible-by-registry voter; operator A creates an override; A's own approval is
refused; B approves; the decision now says `basis: override`; B asks to revoke it and the
override still decides; B's own approval of that is refused; A approves the revocation; the
decision is the registry's verdict again; and the audit chain verifies over all of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from service.api.app import create_app
from service.cli import app as voterctl
from service.domain.caller import Role
from tests.support import (
    ELECTION_ID,
    NOW,
    PEOPLE,
    Country,
    Keys,
    MovableClock,
    load_reference,
    make_settings,
    mock_transports,
    serving,
    token,
)

INCAPACITATED = PEOPLE["incapacitated"]["iin"]
runner = CliRunner()


@pytest.fixture
def server(database_url: str, keys: Keys, country: Country) -> Iterator[tuple[str, str]]:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    app = create_app(settings, clock=MovableClock(NOW), transports=mock_transports(country))
    with serving(app) as url:
        yield url, database_url


def run(server_url: str, keys: Keys, role: Role, subject: str, *args: str) -> Any:
    env = {
        "VOTER_SERVER_URL": server_url,
        "VOTER_TOKEN": token(keys, role, subject=subject),
    }
    return runner.invoke(voterctl, list(args), env=env)


def decision(server_url: str, keys: Keys) -> dict[str, Any]:
    result = run(
        server_url,
        keys,
        Role.EGOV,
        "portal@egov",
        "check",
        INCAPACITATED,
        "--election",
        ELECTION_ID,
        "--json",
    )
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_override_walk_with_maker_checker_through_voterctl(
    server: tuple[str, str], keys: Keys
) -> None:
    url, database_url = server
    before = decision(url, keys)
    assert before["outcome"] == "ineligible"
    assert [r["code"] for r in before["reasons"]] == ["INCAPACITATED_BY_COURT"]

    created = run(
        url,
        keys,
        Role.OPERATOR,
        "operator-a@tec",
        "override",
        "create",
        "--iin",
        INCAPACITATED,
        "--election",
        ELECTION_ID,
        "--kind",
        "include",
        "--precinct",
        "75-0001",
        "--reason-code",
        "COURT_DECISION",
        "--reason-text",
        "capacity restored by the district court",
        "--document",
        "Almaty district court 2-1234/2027",
        "--json",
    )
    assert created.exit_code == 0, created.output
    override = json.loads(created.stdout)
    assert override["status"] == "pending"
    assert INCAPACITATED not in created.stdout

    own = run(url, keys, Role.OPERATOR, "operator-a@tec", "override", "approve", override["id"])
    assert own.exit_code == 4
    assert "SELF_APPROVAL_FORBIDDEN" in own.output
    assert decision(url, keys)["outcome"] == "ineligible"

    approved = run(
        url,
        keys,
        Role.OPERATOR,
        "operator-b@tec",
        "override",
        "approve",
        override["id"],
        "--json",
    )
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.stdout)["status"] == "active"

    during = decision(url, keys)
    assert (during["outcome"], during["basis"], during["override_id"]) == (
        "eligible",
        "override",
        override["id"],
    )
    assert during["precinct"]["id"] == "75-0001"

    requested = run(
        url,
        keys,
        Role.OPERATOR,
        "operator-b@tec",
        "override",
        "revoke",
        override["id"],
        "--reason",
        "appeal upheld",
        "--json",
    )
    assert requested.exit_code == 0, requested.output
    pending = json.loads(requested.stdout)
    assert pending["status"] == "active"
    assert [(r["status"], r["requested_by"]) for r in pending["revocation_requests"]] == [
        ("pending", "operator-b@tec")
    ]
    assert decision(url, keys)["override_id"] == override["id"]

    listed_pending = run(url, keys, Role.OPERATOR, "operator-c@tec", "override", "list")
    assert listed_pending.exit_code == 0, listed_pending.output
    assert "pending: operator-b@tec" in listed_pending.stdout

    own = run(
        url, keys, Role.OPERATOR, "operator-b@tec", "override", "revoke-approve", override["id"]
    )
    assert own.exit_code == 4
    assert "SELF_CONFIRMATION_FORBIDDEN" in own.output
    assert decision(url, keys)["override_id"] == override["id"]

    # The override's maker is a second person to this request, which operator B made.
    revoked = run(
        url,
        keys,
        Role.OPERATOR,
        "operator-a@tec",
        "override",
        "revoke-approve",
        override["id"],
        "--json",
    )
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.stdout)["status"] == "revoked"

    after = decision(url, keys)
    assert (after["outcome"], after["basis"], after["override_id"]) == ("ineligible", None, None)

    listed = run(
        url,
        keys,
        Role.OPERATOR,
        "operator-a@tec",
        "override",
        "list",
        "--election",
        ELECTION_ID,
        "--json",
    )
    [item] = json.loads(listed.stdout)["items"]
    assert [(a["action"], a["by"]) for a in item["actions"]] == [
        ("approve", "operator-b@tec"),
        ("revoke", "operator-a@tec"),
    ]

    verify = runner.invoke(
        voterctl,
        ["audit", "verify", "--database", database_url],
        env={"VOTER_AUDIT_SIGNING_KEY": keys.audit_signing},
    )
    assert verify.exit_code == 0, verify.output
    assert "ok:" in verify.output


def test_egov_cannot_create_overrides(server: tuple[str, str], keys: Keys) -> None:
    url, _ = server
    result = run(
        url,
        keys,
        Role.EGOV,
        "portal@egov",
        "override",
        "create",
        "--iin",
        INCAPACITATED,
        "--election",
        ELECTION_ID,
        "--kind",
        "exclude",
        "--reason-code",
        "COURT_DECISION",
        "--reason-text",
        "x",
        "--document",
        "d",
    )
    assert result.exit_code == 4
    assert "FORBIDDEN" in result.output


def test_a_refused_revocation_keeps_the_override_deciding(
    server: tuple[str, str], keys: Keys
) -> None:
    url, _ = server
    created = run(
        url,
        keys,
        Role.OPERATOR,
        "operator-a@tec",
        "override",
        "create",
        "--iin",
        INCAPACITATED,
        "--election",
        ELECTION_ID,
        "--kind",
        "include",
        "--reason-code",
        "COURT_DECISION",
        "--reason-text",
        "capacity restored",
        "--document",
        "court 2-1/2027",
        "--json",
    )
    override_id = json.loads(created.stdout)["id"]
    run(url, keys, Role.OPERATOR, "operator-b@tec", "override", "approve", override_id)
    run(
        url,
        keys,
        Role.OPERATOR,
        "operator-a@tec",
        "override",
        "revoke",
        override_id,
        "--reason",
        "appeal lodged",
    )

    refused = run(
        url,
        keys,
        Role.OPERATOR,
        "operator-b@tec",
        "override",
        "revoke-refuse",
        override_id,
        "--reason",
        "appeal not yet decided",
        "--json",
    )

    assert refused.exit_code == 0, refused.output
    body = json.loads(refused.stdout)
    assert body["status"] == "active"
    assert [(r["status"], r["decided_by"]) for r in body["revocation_requests"]] == [
        ("refused", "operator-b@tec")
    ]
    assert decision(url, keys)["override_id"] == override_id
    late = run(
        url, keys, Role.OPERATOR, "operator-c@tec", "override", "revoke-approve", override_id
    )
    assert late.exit_code == 4
    assert "UNDO_NOT_PENDING" in late.output
