"""Who may call what (SPEC §1 and §11): every operation of the contract against every role.

The matrix below is written from the specification, not read from the code, and must name
every operation the contract has, so a new route cannot go unclassified. A role outside an
operation's set gets 403 ``FORBIDDEN``; a role inside it gets past authorization, whatever the
request itself then deserves (a 404 for an unknown id is still "allowed").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.app import load_contract
from service.domain.caller import Role
from tests.support import ELECTION_ID, PEOPLE, Keys, token

EGOV, COMMISSION, OPERATOR, AUDITOR = Role.EGOV, Role.COMMISSION, Role.OPERATOR, Role.AUDITOR
WITNESS = Role.WITNESS
EVERYONE = frozenset(Role)
UNKNOWN_ID = str(uuid.UUID(int=1))
VOTER = PEOPLE["eligible_permanent"]["iin"]
UNREGISTERED = PEOPLE["no_registration"]["iin"]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    roles: frozenset[Role]
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


MATRIX: dict[str, Operation] = {
    "checkEligibility": Operation(
        "POST",
        "/v1/eligibility/check",
        frozenset({EGOV, COMMISSION, OPERATOR}),
        {"iin": VOTER, "election_id": ELECTION_ID},
    ),
    "checkPrecinct": Operation(
        "POST",
        "/v1/precinct-checks",
        frozenset({COMMISSION}),
        {"iin": VOTER, "election_id": ELECTION_ID, "precinct_id": "75-0001"},
    ),
    "createDayRegistration": Operation(
        "POST",
        "/v1/day-registrations",
        frozenset({EGOV}),
        {"iin": UNREGISTERED, "election_id": ELECTION_ID, "precinct_id": "75-0002"},
        {"Idempotency-Key": "authorization-matrix"},
    ),
    "getDayRegistration": Operation(
        "GET", f"/v1/day-registrations/{UNKNOWN_ID}", frozenset({EGOV, OPERATOR})
    ),
    "cancelDayRegistration": Operation(
        "POST",
        f"/v1/day-registrations/{UNKNOWN_ID}/cancel",
        frozenset({OPERATOR}),
        {"reason": "wrong desk"},
    ),
    "approveDayRegistrationCancellation": Operation(
        "POST", f"/v1/day-registrations/{UNKNOWN_ID}/cancel/approve", frozenset({OPERATOR}), {}
    ),
    "refuseDayRegistrationCancellation": Operation(
        "POST",
        f"/v1/day-registrations/{UNKNOWN_ID}/cancel/refuse",
        frozenset({OPERATOR}),
        {"reason": "no"},
    ),
    "importPresenceList": Operation(
        "POST",
        "/v1/presence-lists",
        frozenset({OPERATOR}),
        {
            "election_id": ELECTION_ID,
            "precinct_id": "75-0001",
            "iins": [VOTER],
            "document_ref": "hospital list",
        },
    ),
    "getListEntry": Operation("GET", f"/v1/list-entries/{UNKNOWN_ID}", frozenset({OPERATOR})),
    "listListEntries": Operation("GET", "/v1/list-entries", frozenset({OPERATOR})),
    "searchListEntries": Operation(
        "POST", "/v1/search/list-entries", frozenset({OPERATOR}), {"iin": VOTER}
    ),
    "cancelListEntry": Operation(
        "POST", f"/v1/list-entries/{UNKNOWN_ID}/cancel", frozenset({OPERATOR}), {"reason": "no"}
    ),
    "approveListEntryCancellation": Operation(
        "POST", f"/v1/list-entries/{UNKNOWN_ID}/cancel/approve", frozenset({OPERATOR}), {}
    ),
    "refuseListEntryCancellation": Operation(
        "POST",
        f"/v1/list-entries/{UNKNOWN_ID}/cancel/refuse",
        frozenset({OPERATOR}),
        {"reason": "no"},
    ),
    "recordPlaceOfStayApplication": Operation(
        "POST",
        "/v1/place-of-stay-applications",
        frozenset({OPERATOR}),
        {
            "election_id": ELECTION_ID,
            "iin": VOTER,
            "stay_address": {"kato": "751110000", "street": "Абай даңғылы", "house": "14"},
            "document_ref": "akimat decision 7",
        },
    ),
    "recordMissionApplication": Operation(
        "POST",
        "/v1/mission-applications",
        frozenset({OPERATOR}),
        {
            "election_id": ELECTION_ID,
            "iin": VOTER,
            "precinct_id": "99-0001",
            "document_ref": "mission application 3",
        },
    ),
    "issueAbsenteeCertificate": Operation(
        "POST",
        "/v1/absentee-certificates",
        frozenset({OPERATOR}),
        {"election_id": ELECTION_ID, "iin": VOTER, "document_ref": "application 12/03"},
    ),
    "getAbsenteeCertificate": Operation(
        "GET", f"/v1/absentee-certificates/{UNKNOWN_ID}", frozenset({OPERATOR})
    ),
    "cancelAbsenteeCertificate": Operation(
        "POST",
        f"/v1/absentee-certificates/{UNKNOWN_ID}/cancel",
        frozenset({OPERATOR}),
        {"reason": "no"},
    ),
    "approveAbsenteeCertificateCancellation": Operation(
        "POST", f"/v1/absentee-certificates/{UNKNOWN_ID}/cancel/approve", frozenset({OPERATOR}), {}
    ),
    "refuseAbsenteeCertificateCancellation": Operation(
        "POST",
        f"/v1/absentee-certificates/{UNKNOWN_ID}/cancel/refuse",
        frozenset({OPERATOR}),
        {"reason": "no"},
    ),
    "createOverride": Operation(
        "POST",
        "/v1/overrides",
        frozenset({OPERATOR}),
        {
            "iin": VOTER,
            "election_id": ELECTION_ID,
            "kind": "include",
            "reason_code": "COURT_DECISION",
            "reason_text": "capacity restored",
            "document_ref": "court 2-1/2027",
        },
    ),
    "listOverrides": Operation("GET", "/v1/overrides", frozenset({OPERATOR})),
    "searchOverrides": Operation(
        "POST", "/v1/search/overrides", frozenset({OPERATOR}), {"iin": VOTER}
    ),
    "readAccessLog": Operation("POST", "/v1/me/access-log", frozenset({EGOV}), {"iin": VOTER}),
    "listDayRegistrations": Operation("GET", "/v1/day-registrations", frozenset({OPERATOR})),
    "searchDayRegistrations": Operation(
        "POST", "/v1/search/day-registrations", frozenset({OPERATOR}), {"iin": UNREGISTERED}
    ),
    "getOverride": Operation("GET", f"/v1/overrides/{UNKNOWN_ID}", frozenset({OPERATOR})),
    "approveOverride": Operation(
        "POST", f"/v1/overrides/{UNKNOWN_ID}/approve", frozenset({OPERATOR}), {}
    ),
    "refuseOverride": Operation(
        "POST", f"/v1/overrides/{UNKNOWN_ID}/refuse", frozenset({OPERATOR}), {"reason": "no"}
    ),
    "revokeOverride": Operation(
        "POST", f"/v1/overrides/{UNKNOWN_ID}/revoke", frozenset({OPERATOR}), {"reason": "no"}
    ),
    "approveOverrideRevocation": Operation(
        "POST", f"/v1/overrides/{UNKNOWN_ID}/revoke/approve", frozenset({OPERATOR}), {}
    ),
    "refuseOverrideRevocation": Operation(
        "POST",
        f"/v1/overrides/{UNKNOWN_ID}/revoke/refuse",
        frozenset({OPERATOR}),
        {"reason": "no"},
    ),
    "listAccountHolds": Operation("GET", "/v1/account-holds", frozenset({OPERATOR})),
    "liftAccountHold": Operation(
        "POST", f"/v1/account-holds/{UNKNOWN_ID}/lift", frozenset({OPERATOR}), {"reason": "ok"}
    ),
    "listPrecincts": Operation("GET", "/v1/precincts", EVERYONE),
    "getPrecinct": Operation("GET", "/v1/precincts/75-0001", EVERYONE),
    "listElections": Operation("GET", "/v1/elections", EVERYONE),
    "getElection": Operation("GET", f"/v1/elections/{ELECTION_ID}", EVERYONE),
    "listAuditEntries": Operation("GET", "/v1/audit/entries", frozenset({AUDITOR})),
    "getAuditCheckpoint": Operation("GET", "/v1/audit/checkpoint", frozenset({AUDITOR, WITNESS})),
    "getAuditInclusionProof": Operation(
        "GET", "/v1/audit/proofs/inclusion?seq=1&tree_size=1", frozenset({AUDITOR, WITNESS})
    ),
    "getAuditConsistencyProof": Operation(
        "GET", "/v1/audit/proofs/consistency?first=1&second=1", frozenset({AUDITOR, WITNESS})
    ),
    "addAuditCosignature": Operation(
        "POST", "/v1/audit/cosignatures", frozenset({WITNESS}), {"note": "o\n1\nx\n\n"}
    ),
}
PUBLIC = {"healthz", "readyz", "metrics", "getElectionStatistics", "getElectionStatisticsCsv"}


def _contract_operations() -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for item in load_contract()["paths"].values()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }


def _call(client: TestClient, operation: Operation, bearer: str) -> Any:
    headers = {"Authorization": f"Bearer {bearer}", **operation.headers}
    if operation.body is None:
        return client.request(operation.method, operation.path, headers=headers)
    return client.request(operation.method, operation.path, json=operation.body, headers=headers)


def test_the_matrix_classifies_every_operation_of_the_contract() -> None:
    operations = _contract_operations()
    assert set(MATRIX) | PUBLIC == set(operations)
    for name in PUBLIC:
        assert operations[name].get("security") == [], name
    for name in MATRIX:
        assert operations[name].get("security") != [], name


def test_operator_routes_admit_operators_only() -> None:
    # The operator CLI's routes (SPEC §7, §6 cancellation) belong to no other role.
    operator_only = {name for name, op in MATRIX.items() if op.roles == {OPERATOR}}
    assert operator_only == {
        "cancelDayRegistration",
        "approveDayRegistrationCancellation",
        "refuseDayRegistrationCancellation",
        "listDayRegistrations",
        "searchDayRegistrations",
        "createOverride",
        "listOverrides",
        "searchOverrides",
        "getOverride",
        "approveOverride",
        "refuseOverride",
        "revokeOverride",
        "approveOverrideRevocation",
        "refuseOverrideRevocation",
        "listAccountHolds",
        "liftAccountHold",
        "importPresenceList",
        "getListEntry",
        "listListEntries",
        "searchListEntries",
        "cancelListEntry",
        "approveListEntryCancellation",
        "refuseListEntryCancellation",
        "recordPlaceOfStayApplication",
        "recordMissionApplication",
        "issueAbsenteeCertificate",
        "getAbsenteeCertificate",
        "cancelAbsenteeCertificate",
        "approveAbsenteeCertificateCancellation",
        "refuseAbsenteeCertificateCancellation",
    }


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_each_role_reaches_exactly_the_operations_meant_for_it(
    client: TestClient, keys: Keys, role: Role
) -> None:
    # The claim names the precinct of the Service A call; other roles ignore it.
    bearer = token(keys, role, subject=f"matrix-{role.value}@test", precincts=("75-0001",))
    refused, admitted = [], []
    for name, operation in MATRIX.items():
        response = _call(client, operation, bearer)
        if role in operation.roles:
            if response.status_code in {401, 403}:
                refused.append((name, response.status_code, response.text))
        elif (response.status_code, response.json().get("code")) != (403, "FORBIDDEN"):
            admitted.append((name, response.status_code))
        else:
            assert response.headers["content-type"] == "application/problem+json"
    assert refused == [], f"{role.value} was refused what it may do"
    assert admitted == [], f"{role.value} got past authorization where it may not"


def test_a_token_without_any_role_is_refused_everywhere(client: TestClient, keys: Keys) -> None:
    bearer = token(keys, subject="nobody@test")
    for name, operation in MATRIX.items():
        response = _call(client, operation, bearer)
        assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN"), name


def test_every_protected_operation_refuses_a_missing_token(client: TestClient) -> None:
    for name, operation in MATRIX.items():
        response = client.request(
            operation.method, operation.path, json=operation.body, headers=operation.headers
        )
        assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED"), name
