"""The eligibility check over HTTP, against the mock upstreams, on a real SQLite file."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.domain.caller import Role
from tests.support import (
    BIN_NOT_IN_REGISTRY,
    ELECTION_ID,
    NOT_IN_REGISTRY,
    PEOPLE,
    Country,
    Keys,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
)


def check(
    client: TestClient, keys: Keys, iin: str, *, role: Role = Role.EGOV, lang: str = "en"
) -> Any:
    return client.post(
        "/v1/eligibility/check",
        json={"iin": iin, "election_id": ELECTION_ID},
        headers={"Authorization": f"Bearer {token(keys, role)}", "Accept-Language": lang},
    )


@pytest.mark.parametrize(
    ("who", "outcome", "reasons", "precinct", "basis"),
    [
        ("eligible_permanent", "eligible", [], "75-0001", "permanent_registration"),
        ("eligible_temporary", "eligible", [], "75-0002", "temporary_registration"),
        ("eligible_consular", "eligible", [], "99-0001", "consular_registration"),
        ("no_registration", "eligible", [], None, None),
        ("uncovered_address", "eligible", [], None, None),
        ("birthday_on_voting_day", "eligible", [], "75-0002", "permanent_registration"),
        ("pretrial", "eligible", [], "75-0001", "permanent_registration"),
        ("under_18", "ineligible", ["UNDER_18"], None, None),
        ("not_citizen", "ineligible", ["NOT_CITIZEN"], None, None),
        ("deceased", "ineligible", ["DECEASED"], None, None),
        ("incapacitated", "ineligible", ["INCAPACITATED_BY_COURT"], None, None),
        ("imprisoned", "ineligible", ["IMPRISONED_BY_SENTENCE"], None, None),
        ("sentence_ended", "eligible", [], "75-0001", "permanent_registration"),
        ("sentence_runs", "ineligible", ["IMPRISONED_BY_SENTENCE"], None, None),
        ("capacity_restored", "eligible", [], "75-0002", "permanent_registration"),
        ("bin_shaped_person", "eligible", [], "75-0001", "permanent_registration"),
    ],
)
def test_each_kind_of_voter_gets_the_decision_the_law_gives(
    client: TestClient,
    keys: Keys,
    who: str,
    outcome: str,
    reasons: list[str],
    precinct: str | None,
    basis: str | None,
) -> None:
    response = check(client, keys, PEOPLE[who]["iin"])
    assert response.status_code == 200, response.text
    decision = response.json()
    assert decision["outcome"] == outcome
    assert [r["code"] for r in decision["reasons"]] == reasons
    assert (decision["precinct"] or {}).get("id") == precinct
    assert decision["basis"] == basis
    assert decision["ruleset"] == "kz-2026.3"
    assert decision["audit"]["seq"] >= 1
    assert len(decision["audit"]["entry_hash"]) == 64


def test_unknown_iin_is_ineligible_not_found_without_registry_timestamp(
    client: TestClient, keys: Keys
) -> None:
    decision = check(client, keys, NOT_IN_REGISTRY).json()
    assert decision["outcome"] == "ineligible"
    assert [r["code"] for r in decision["reasons"]] == ["NOT_FOUND"]
    assert decision["registry_data_as_of"] is None


def test_a_person_the_registry_does_not_know_is_told_to_apply_to_the_commission(
    client: TestClient, keys: Keys
) -> None:
    decision = check(client, keys, NOT_IN_REGISTRY, lang="en").json()
    assert decision["next_steps"] == [
        {
            "code": "APPLY_TO_COMMISSION",
            "message": "The registry does not know this person: apply to the precinct "
            "election commission with an identity document.",
            "precinct_ids": [],
        }
    ]


def test_a_bin_the_registry_does_not_know_is_refused_not_individual_with_a_receipt(
    client: TestClient, keys: Keys
) -> None:
    response = check(client, keys, BIN_NOT_IN_REGISTRY)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "NOT_INDIVIDUAL"
    assert "If it is your IIN" in problem["detail"]
    assert problem["audit"]["seq"] >= 1
    assert len(problem["audit"]["entry_hash"]) == 64
    assert BIN_NOT_IN_REGISTRY not in response.text
    auditor = {"Authorization": f"Bearer {token(keys, Role.AUDITOR)}"}
    entries = client.get("/v1/audit/entries", headers=auditor).json()["items"]
    [body] = [json.loads(e["body"]) for e in entries if e["seq"] == problem["audit"]["seq"]]
    assert body["kind"] == "eligibility.check"
    assert body["payload"]["outcome"] == "refused"
    assert body["payload"]["refusal"] == "NOT_INDIVIDUAL"
    assert body["payload"]["decision_id"] == problem["decision_id"]


def test_a_person_whose_number_has_a_bin_shape_is_decided_not_refused(
    client: TestClient, keys: Keys
) -> None:
    response = check(client, keys, PEOPLE["bin_shaped_person"]["iin"])

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "eligible"


def test_voter_without_registration_is_pointed_at_designated_precincts(
    client: TestClient, keys: Keys
) -> None:
    decision = check(client, keys, PEOPLE["no_registration"]["iin"]).json()
    assert decision["next_steps"][0]["code"] == "DAY_REGISTRATION_AVAILABLE"
    # Designated and in Kazakhstan; the London embassy is marked but never offered.
    assert decision["next_steps"][0]["precinct_ids"] == ["27-0001", "75-0002"]


def test_uncovered_address_is_flagged_for_operators(client: TestClient, keys: Keys) -> None:
    decision = check(client, keys, PEOPLE["uncovered_address"]["iin"]).json()
    assert [s["code"] for s in decision["next_steps"]] == ["NO_PRECINCT_FOR_ADDRESS"]


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("kk", "Дауыс беру күніне 18 жасқа толмаған."),
        ("ru", "На день голосования не исполнилось 18 лет."),
        ("en", "Not 18 years old on voting day."),
        ("fr, ru;q=0.5, en;q=0.4", "На день голосования не исполнилось 18 лет."),
        ("", "Дауыс беру күніне 18 жасқа толмаған."),
    ],
)
def test_reason_messages_follow_accept_language(
    client: TestClient, keys: Keys, lang: str, text: str
) -> None:
    decision = check(client, keys, PEOPLE["under_18"]["iin"], lang=lang).json()
    assert decision["reasons"][0]["message"] == text


def test_receipts_form_an_increasing_sequence(client: TestClient, keys: Keys) -> None:
    seqs = [
        check(client, keys, PEOPLE["eligible_permanent"]["iin"]).json()["audit"]["seq"]
        for _ in range(3)
    ]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3


@pytest.mark.parametrize(
    ("iin", "code"),
    [
        ("90010130012", "IIN_FORMAT"),
        ("90010130012x", "IIN_FORMAT"),
        ("900101300127", "IIN_CHECKSUM"),
        ("900101300805", "IIN_UNUSABLE"),
    ],
)
def test_bad_iin_is_a_422_problem_and_not_a_decision(
    client: TestClient, keys: Keys, iin: str, code: str
) -> None:
    response = check(client, keys, iin)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert problem["status"] == 422
    assert iin not in response.text
    auditor = {"Authorization": f"Bearer {token(keys, Role.AUDITOR)}"}
    entries = client.get("/v1/audit/entries", headers=auditor).json()["items"]
    assert all(json.loads(e["body"])["kind"] != "eligibility.check" for e in entries)


def test_unknown_election_is_404(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/eligibility/check",
        json={"iin": PEOPLE["eligible_permanent"]["iin"], "election_id": "1999-nothing"},
        headers={"Authorization": f"Bearer {token(keys, Role.EGOV)}"},
    )
    assert response.status_code == 404
    assert response.json()["code"] == "ELECTION_NOT_FOUND"


def test_unknown_fields_are_rejected(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/eligibility/check",
        json={"iin": "900101300126", "election_id": ELECTION_ID, "extra": 1},
        headers={"Authorization": f"Bearer {token(keys, Role.EGOV)}"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_FAILED"


def test_broken_json_is_400(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/eligibility/check",
        content=b'{"iin": ',
        headers={
            "Authorization": f"Bearer {token(keys, Role.EGOV)}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "MALFORMED_REQUEST"


def test_oversized_body_is_413(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/eligibility/check",
        content=b'{"iin": "' + b"1" * 20_000 + b'"}',
        headers={
            "Authorization": f"Bearer {token(keys, Role.EGOV)}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_no_token_is_401_and_wrong_role_is_403(client: TestClient, keys: Keys) -> None:
    body = {"iin": "900101300126", "election_id": ELECTION_ID}
    unauthenticated = client.post("/v1/eligibility/check", json=body)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["code"] == "UNAUTHENTICATED"
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    forbidden = client.post(
        "/v1/eligibility/check",
        json=body,
        headers={"Authorization": f"Bearer {token(keys, Role.AUDITOR)}"},
    )
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("request_", "status", "code", "fields"),
    [
        # Malformed JSON is refused before anyone is authenticated: nothing was read yet.
        ({"content": b"{", "role": None}, 400, "MALFORMED_REQUEST", ["body.1"]),
        ({"query": "?lang=ru", "role": Role.EGOV}, 422, "VALIDATION_FAILED", ["query"]),
        # Query parameters are refused before the token is looked at, too.
        ({"query": "?x=1", "role": None}, 422, "VALIDATION_FAILED", ["query"]),
        ({"role": None}, 401, "UNAUTHENTICATED", None),
        ({"role": Role.AUDITOR}, 403, "FORBIDDEN", None),
        # Authentication comes before field validation: a stranger learns nothing of the fields.
        ({"content": b"[]", "role": None}, 401, "UNAUTHENTICATED", None),
        ({"content": b"", "role": Role.EGOV}, 422, "VALIDATION_FAILED", ["body"]),
        # A body that is not JSON is not read as one, before anyone is authenticated.
        ({"content_type": "text/plain", "role": None}, 415, "UNSUPPORTED_MEDIA_TYPE", None),
        ({"content_type": "text/plain", "role": Role.EGOV}, 415, "UNSUPPORTED_MEDIA_TYPE", None),
        (
            {"headers": {"Accept-Language": "x" * 257}, "content": b"[]", "role": Role.EGOV},
            422,
            "VALIDATION_FAILED",
            ["header.Accept-Language", "body"],
        ),
        (
            {"headers": {"X-Request-ID": "r" * 129}, "role": Role.COMMISSION},
            422,
            "VALIDATION_FAILED",
            ["header.X-Request-ID"],
        ),
    ],
)
def test_the_check_refuses_a_bad_request_in_the_order_the_contract_gives(
    client: TestClient,
    keys: Keys,
    request_: dict[str, Any],
    status: int,
    code: str,
    fields: list[str] | None,
) -> None:
    usual = json.dumps({"iin": PEOPLE["under_18"]["iin"], "election_id": ELECTION_ID}).encode()
    headers = {"Content-Type": request_.get("content_type", "application/json")}
    headers.update(request_.get("headers", {}))
    if request_["role"] is not None:
        headers["Authorization"] = f"Bearer {token(keys, request_['role'])}"
    response = client.post(
        "/v1/eligibility/check" + request_.get("query", ""),
        content=request_.get("content", usual),
        headers=headers,
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert "decision_id" not in problem
    if fields is not None:
        assert [error["field"] for error in problem["errors"]] == fields


def test_a_check_with_every_header_at_its_bound_is_decided(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/eligibility/check",
        json={"iin": PEOPLE["under_18"]["iin"], "election_id": ELECTION_ID},
        headers={
            "Authorization": f"Bearer {token(keys, Role.EGOV)}",
            "Accept-Language": "ru," + "x" * 253,
            "X-Request-ID": "r" * 128,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "ineligible"


def test_request_id_is_echoed_in_header_and_problem(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/eligibility/check", json={}, headers={"X-Request-ID": "req-12345678"}
    )
    assert response.headers["x-request-id"] == "req-12345678"
    assert response.json()["request_id"] == "req-12345678"


@pytest.mark.parametrize("request_id", [str(uuid.uuid4()), "12345678-9012-4abc-8def-0123456789ab"])
def test_a_front_ends_uuid_request_id_is_kept_even_when_its_groups_join_into_twelve_digits(
    client: TestClient, request_id: str
) -> None:
    response = client.post("/v1/eligibility/check", json={}, headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id
    assert response.json()["request_id"] == request_id


def test_a_request_id_holding_a_grouped_iin_is_replaced(client: TestClient) -> None:
    response = client.post(
        "/v1/eligibility/check", json={}, headers={"X-Request-ID": "7802-0340-0000"}
    )
    assert response.headers["x-request-id"] != "7802-0340-0000"
    assert "7802" not in response.text


def test_single_lookups_and_batched_lookups_give_the_same_decisions(
    database_url: str, keys: Keys, country: Country
) -> None:
    # Batching is on by default; an upstream without batch endpoints gets single lookups.
    decisions: dict[bool, list[tuple[str, list[str], str | None]]] = {}
    for batched in (True, False):
        settings = make_settings(database_url, keys, upstream_batch_lookups=batched)
        load_reference(settings, country)
        with running_app(settings, mock_transports(country)) as (_, client):
            answers = [check(client, keys, person["iin"]).json() for person in PEOPLE.values()]
        decisions[batched] = [
            (a["outcome"], [r["code"] for r in a["reasons"]], (a["precinct"] or {}).get("id"))
            for a in answers
        ]
    assert decisions[True] == decisions[False]
    assert {outcome for outcome, _, _ in decisions[True]} == {"eligible", "ineligible"}


def test_the_check_answers_another_method_with_a_405_naming_post(
    client: TestClient, keys: Keys
) -> None:
    response = client.get(
        "/v1/eligibility/check", headers={"Authorization": f"Bearer {token(keys, Role.EGOV)}"}
    )
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "POST"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
