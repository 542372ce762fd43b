"""Every input the contract accepts is bounded, and the service enforces the body bound.

Walks ``contracts/openapi.yaml``: each string a caller can send (path, query and header
parameters, request body fields at any depth) carries ``maxLength``, or is an ``enum`` or a
fixed-width ``format``; each integer has a ``maximum``; each request object refuses unknown
fields. Then every operation with a body answers 413 ``PAYLOAD_TOO_LARGE`` above the size
bound, whether the client declares the length or streams the body chunked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.app import load_contract
from service.api.routes.list_entries import PRESENCE_LIST_BODY_BYTES, PRESENCE_LIST_PATH
from service.config import Settings
from service.domain.caller import Role
from tests.support import Keys, token

METHODS = {"get", "post", "put", "patch", "delete"}
# RFC 3339 full-date, date-time and UUID strings have a fixed or bounded width.
BOUNDED_FORMATS = {"date", "date-time", "uuid"}
MAX_BODY_BYTES = Settings.model_fields["max_body_bytes"].default

Schema = dict[str, Any]


def _resolve(node: Schema, document: Schema) -> Schema:
    while "$ref" in node:
        *_, section, name = node["$ref"].split("/")
        node = document["components"][section][name]
    return node


def _types(schema: Schema) -> set[str]:
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def _walk(schema: Schema, document: Schema, where: str) -> Iterator[tuple[str, Schema]]:
    """Every subschema of a request input, with a readable location."""
    schema = _resolve(schema, document)
    yield where, schema
    for keyword in ("oneOf", "anyOf", "allOf"):
        for index, alternative in enumerate(schema.get(keyword, [])):
            yield from _walk(alternative, document, f"{where}|{keyword}[{index}]")
    for name, sub in schema.get("properties", {}).items():
        yield from _walk(sub, document, f"{where}.{name}")
    if "items" in schema:
        yield from _walk(schema["items"], document, f"{where}[]")


def _request_inputs(document: Schema) -> Iterator[tuple[str, Schema]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                parameter = _resolve(parameter, document)
                where = f"{label} {parameter['in']}:{parameter['name']}"
                yield from _walk(parameter["schema"], document, where)
            body = operation.get("requestBody", {}).get("content", {})
            for media_type, content in body.items():
                yield from _walk(content["schema"], document, f"{label} body({media_type})")


def _unbounded(schema: Schema) -> str | None:
    types = _types(schema)
    if "string" in types:
        bounded = (
            "maxLength" in schema
            or "enum" in schema
            or "const" in schema
            or schema.get("format") in BOUNDED_FORMATS
        )
        if not bounded:
            return "string without maxLength"
    if "integer" in types and "maximum" not in schema and "enum" not in schema:
        return "integer without maximum"
    if "array" in types and "maxItems" not in schema:
        return "array without maxItems"
    if "object" in types and schema.get("additionalProperties", True) is not False:
        return "object that accepts unknown fields"
    return None


@pytest.fixture(scope="module")
def contract() -> Schema:
    return load_contract()


def test_the_walk_sees_every_kind_of_input(contract: Schema) -> None:
    # Guards the walker itself: a walk that found nothing would pass anything.
    locations = [where for where, _ in _request_inputs(contract)]
    assert any(" path:" in w for w in locations)
    assert any(" query:" in w for w in locations)
    assert any(" header:Idempotency-Key" in w for w in locations)
    assert any(w.endswith(".reason_text") for w in locations)
    assert any("precinct_id|oneOf[0]" in w for w in locations)


def test_the_walk_flags_an_unbounded_field() -> None:
    document: Schema = {
        "paths": {
            "/x": {
                "post": {
                    "parameters": [{"in": "query", "name": "q", "schema": {"type": "string"}}],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {"n": {"type": ["integer", "null"]}},
                                }
                            }
                        }
                    },
                }
            }
        }
    }
    found = {where: _unbounded(s) for where, s in _request_inputs(document) if _unbounded(s)}
    assert found == {
        "POST /x query:q": "string without maxLength",
        "POST /x body(application/json).n": "integer without maximum",
    }


def test_every_input_the_contract_accepts_is_bounded(contract: Schema) -> None:
    problems = [
        f"{where}: {problem}"
        for where, schema in _request_inputs(contract)
        if (problem := _unbounded(schema)) is not None
    ]
    assert problems == []


def _operations_with_a_body(document: Schema) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS and "requestBody" in operation
    ]


BODY_OPERATIONS = _operations_with_a_body(load_contract())


# Routes whose bodies may be larger than the general bound.
LARGER_BOUNDS = {PRESENCE_LIST_PATH: PRESENCE_LIST_BODY_BYTES}


def _oversized_body(path: str = "") -> bytes:
    return b'{"reason": "' + b"x" * LARGER_BOUNDS.get(path, MAX_BODY_BYTES) + b'"}'


def _concrete(path: str) -> str:
    for name in ("{registration_id}", "{override_id}", "{entry_id}"):
        path = path.replace(name, "0" * 8)
    return path


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS, ids=lambda v: str(v))
def test_a_body_over_the_bound_is_413_on_every_operation(
    client: TestClient, keys: Keys, method: str, path: str
) -> None:
    headers = {
        "Authorization": f"Bearer {token(keys, *Role)}",
        "Content-Type": "application/json",
        "Idempotency-Key": "bounds-test-key",
    }
    body = _oversized_body(path)

    declared = client.request(method, _concrete(path), content=body, headers=headers)
    streamed = client.request(
        method, _concrete(path), content=iter([body[:1000], body[1000:]]), headers=headers
    )

    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert "content-length" not in streamed.request.headers


def test_a_body_at_the_bound_is_read(client: TestClient, keys: Keys) -> None:
    padding = MAX_BODY_BYTES - len(b'{"iin": "", "election_id": "x"}')
    body = b'{"iin": "' + b" " * padding + b'", "election_id": "x"}'
    assert len(body) == MAX_BODY_BYTES
    response = client.post(
        "/v1/eligibility/check",
        content=body,
        headers={
            "Authorization": f"Bearer {token(keys, Role.EGOV)}",
            "Content-Type": "application/json",
        },
    )
    # Read and judged on its content (the iin is over its maxLength), not refused for size.
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")


@pytest.mark.parametrize(
    ("header", "bound"), [("X-Request-ID", 128), ("Accept-Language", 256)], ids=["rid", "lang"]
)
def test_a_declared_header_over_its_bound_is_refused(
    client: TestClient, keys: Keys, header: str, bound: int
) -> None:
    # Schemathesis found these bounds written in the contract but not enforced.
    def check(value: str) -> Any:
        return client.post(
            "/v1/eligibility/check",
            json={"iin": "900101300126", "election_id": "2027-president"},
            headers={"Authorization": f"Bearer {token(keys, Role.EGOV)}", header: value},
        )

    assert check("a" * bound).status_code == 200
    refused = check("a" * (bound + 1))
    assert (refused.status_code, refused.json()["code"]) == (422, "VALIDATION_FAILED")
    assert refused.json()["errors"][0]["type"] == "string_too_long"


def test_a_presence_list_of_2000_iins_fits_its_larger_bound(client: TestClient, keys: Keys) -> None:
    # Over the general bound, under the presence list's: the route decides, not the size.
    body = {
        "election_id": "2027-president",
        "precinct_id": "75-0001",
        "iins": ["900101300126"] * 2000,
        "document_ref": "hospital list",
    }
    response = client.post(
        PRESENCE_LIST_PATH,
        json=body,
        headers={"Authorization": f"Bearer {token(keys, Role.OPERATOR)}"},
    )
    assert len(response.request.content) > MAX_BODY_BYTES
    assert (response.status_code, response.json()["code"]) == (422, "PRECINCT_NOT_SPECIAL")


def test_every_presence_list_the_contract_accepts_fits_its_bound(
    client: TestClient, keys: Keys
) -> None:
    # The largest body the schema allows: 2000 IINs of 32 code points outside the BMP, each
    # written by a JSON encoder as a surrogate pair of escapes (12 bytes), and the longest
    # other fields. Before, a 64 KiB bound refused such schema-valid bodies with 413.
    body = json.dumps(
        {
            "election_id": "e" * 64,
            "precinct_id": "p" * 32,
            "iins": ["\U0001d7ce" * 32] * 2000,
            "document_ref": "\U0001d7ce" * 200,
        }
    ).encode("ascii")
    assert len(body) <= PRESENCE_LIST_BODY_BYTES
    response = client.post(
        PRESENCE_LIST_PATH,
        content=body,
        headers={
            "Authorization": f"Bearer {token(keys, Role.OPERATOR)}",
            "Content-Type": "application/json",
        },
    )
    # Read and judged on its content (no such election), not refused for its size.
    assert response.status_code != 413
    assert response.json()["code"] != "PAYLOAD_TOO_LARGE"
