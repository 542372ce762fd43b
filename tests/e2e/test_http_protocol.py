"""How the API speaks HTTP, whatever the route: caching, redirects, methods, media types.

Each test is a regression test for a finding of issue 12 ("Low"), asserted as a front end, a
proxy or an attacker would see the answer.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from service.api.app import load_contract
from service.domain.caller import Role
from tests.support import ELECTION_ID, PEOPLE, Keys, token


def _bearer(keys: Keys, role: Role = Role.EGOV) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(keys, role)}"}


def test_no_answer_of_the_api_may_be_stored_by_a_cache(client: TestClient, keys: Keys) -> None:
    # Decisions, registrations and refusals all speak of a person: no shared or browser cache
    # may keep them, the 200s as much as the problems.
    body = {"iin": PEOPLE["under_18"]["iin"], "election_id": ELECTION_ID}
    answers = [
        client.post("/v1/eligibility/check", json=body, headers=_bearer(keys)),
        client.post("/v1/eligibility/check", json={"iin": "1", "election_id": ELECTION_ID}),
        client.post(
            "/v1/eligibility/check",
            json={"iin": "1", "election_id": ELECTION_ID},
            headers=_bearer(keys),
        ),
        client.get("/v1/precincts/75-0001", headers=_bearer(keys)),
        client.get("/v1/elections", headers=_bearer(keys)),
        client.get("/v1/no-such-resource", headers=_bearer(keys)),
        client.post(
            "/v1/eligibility/check",
            content=b"{" + b" " * 100_000 + b"}",
            headers={**_bearer(keys), "Content-Type": "application/json"},
        ),
    ]
    assert [a.status_code for a in answers] == [200, 401, 422, 200, 200, 404, 413]
    assert [a.headers.get("cache-control") for a in answers] == ["no-store"] * len(answers)


def test_a_problem_title_follows_the_negotiated_language_while_type_and_code_stay_stable(
    client: TestClient, keys: Keys
) -> None:
    problems = {
        lang: client.post(
            "/v1/eligibility/check",
            json={"iin": "1", "election_id": ELECTION_ID},
            headers={**_bearer(keys), "Accept-Language": lang},
        )
        for lang in ("kk", "ru", "en")
    }
    assert {lang: p.headers["content-language"] for lang, p in problems.items()} == {
        "kk": "kk",
        "ru": "ru",
        "en": "en",
    }
    assert {lang: p.json()["title"] for lang, p in problems.items()} == {
        "kk": "ЖСН 12 цифрдан тұруы керек.",
        "ru": "ИИН должен состоять из 12 цифр.",
        "en": "An IIN is exactly 12 digits.",
    }
    assert {(p.json()["type"], p.json()["code"]) for p in problems.values()} == {
        ("urn:voter-eligibility:problem:IIN_FORMAT", "IIN_FORMAT")
    }


def test_a_405_names_in_allow_every_method_the_contract_gives_its_path(
    client: TestClient, keys: Keys
) -> None:
    paths = load_contract()["paths"]
    allowed: dict[str, str] = {}
    for template in paths:
        # No operation of the contract is a DELETE; "0a1b" fits every path parameter's pattern.
        path = re.sub(r"\{[^}]+\}", "0a1b", template)
        response = client.delete(path, headers=_bearer(keys, Role.OPERATOR))
        assert (response.status_code, response.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
        allowed[template] = response.headers.get("allow", "")
    assert allowed == {
        template: ", ".join(sorted(method.upper() for method in item))
        for template, item in paths.items()
    }


def test_a_trailing_slash_is_a_404_problem_never_a_redirect_to_the_callers_host(
    client: TestClient, keys: Keys
) -> None:
    for method, path in [
        ("POST", "/v1/eligibility/check/"),
        ("GET", "/v1/elections/"),
        ("GET", "/healthz/"),
    ]:
        response = client.request(
            method,
            path,
            json={},
            headers={**_bearer(keys), "Host": "evil.example"},
            follow_redirects=False,
        )
        assert (response.status_code, response.json()["code"]) == (404, "RESOURCE_NOT_FOUND")
        assert "location" not in response.headers
        assert "evil.example" not in response.text


def _operations_with_a_body() -> list[tuple[str, str]]:
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "0a1b", template))
        for template, item in load_contract()["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]


def test_a_body_that_is_not_json_is_refused_with_415_by_every_operation_that_takes_one(
    client: TestClient, keys: Keys
) -> None:
    every_role = {"Authorization": f"Bearer {token(keys, *Role)}"}
    operations = _operations_with_a_body()
    assert len(operations) >= 8
    for method, path in operations:
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = dict(every_role)
            if content_type is not None:
                headers["Content-Type"] = content_type
            response = client.request(method, path, content=b'{"iin": "1"}', headers=headers)
            assert response.status_code == 415, (method, path, content_type, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_a_json_body_naming_a_member_twice_is_refused_with_400_by_every_operation_that_takes_one(
    client: TestClient, keys: Keys
) -> None:
    # Parsers disagree on which of two same-named members counts (first, last, error): a
    # proxy or a log may read one IIN while the decision is taken on the other.
    every_role = {"Authorization": f"Bearer {token(keys, *Role)}"}
    iin = PEOPLE["under_18"]["iin"]
    bodies = [
        f'{{"iin": "{iin}", "election_id": "{ELECTION_ID}", "iin": "{iin}"}}',
        f'{{"iin": "{iin}", "election_id": "{ELECTION_ID}", "x": {{"a": 1, "a": 2}}}}',
    ]
    for method, path in _operations_with_a_body():
        for body in bodies:
            response = client.request(
                method,
                path,
                content=body.encode(),
                headers={**every_role, "Content-Type": "application/json"},
            )
            assert response.status_code == 400, (method, path, response.text)
            problem = response.json()
            assert problem["code"] == "MALFORMED_REQUEST"
            assert problem["errors"] == [{"field": "body", "type": "json_duplicate_key"}]
            assert iin not in response.text


def test_a_query_parameter_given_twice_is_refused_not_silently_the_last(
    client: TestClient, keys: Keys
) -> None:
    # Found by schemathesis: `after_seq=false&...&after_seq=0` was answered with the last one.
    auditor = _bearer(keys, Role.AUDITOR)
    twice = client.get("/v1/audit/entries?after_seq=1&after_seq=0", headers=auditor)
    assert twice.status_code == 422, twice.text
    assert twice.json()["errors"] == [{"field": "query", "type": "repeated_parameter"}]
    once = client.get("/v1/audit/entries?after_seq=0", headers=auditor)
    assert once.status_code == 200, once.text
