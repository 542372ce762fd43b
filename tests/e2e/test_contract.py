"""The hand-written contract is the source of truth; the code must not drift from it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.api.app import create_app, load_contract
from service.api.deps import UNAUTHENTICATED_REASONS
from service.errors import ErrorCode
from tests.support import Keys, make_settings

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return load_contract()


@pytest.fixture(scope="module")
def generated(keys: Keys) -> dict[str, Any]:
    app: FastAPI = create_app(make_settings("sqlite://", keys))
    return get_openapi(title="generated", version="0", routes=app.routes)


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        _, _, section, name = schema["$ref"].split("/")
        schema = document["components"][section][name]
    return schema


def _object_shape(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """Property names, required names and nested shapes, ignoring descriptions and titles."""
    schema = _resolve(schema, document)
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        if alternative.get("type") != "null":
            return _object_shape(alternative, document)
    if schema.get("type") == "array":
        return {"items": _object_shape(schema.get("items", {}), document)}
    if "properties" not in schema:
        return {}
    return {
        "required": sorted(schema.get("required", [])),
        "properties": {
            name: _object_shape(sub, document) for name, sub in schema["properties"].items()
        },
    }


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_the_code_serves_exactly_the_operations_of_the_contract(
    contract: dict[str, Any], generated: dict[str, Any]
) -> None:
    assert sorted(_operations(generated)) == sorted(_operations(contract))


def test_the_served_schema_is_the_contract_file(keys: Keys, contract: dict[str, Any]) -> None:
    app = create_app(make_settings("sqlite://", keys))
    assert app.openapi() == contract


def test_parameters_agree(contract: dict[str, Any], generated: dict[str, Any]) -> None:
    def names(operation: dict[str, Any], document: dict[str, Any]) -> set[tuple[str, str]]:
        params = [_resolve(p, document) for p in operation.get("parameters", [])]
        # Headers are documented in the contract; FastAPI reads them from the request.
        return {(p["in"], p["name"]) for p in params if p["in"] != "header"}

    theirs = _operations(generated)
    for key, operation in _operations(contract).items():
        assert names(operation, contract) == names(theirs[key], generated), key


def test_request_bodies_agree(contract: dict[str, Any], generated: dict[str, Any]) -> None:
    theirs = _operations(generated)
    for key, operation in _operations(contract).items():
        ours_body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        their_body = theirs[key].get("requestBody", {}).get("content", {}).get("application/json")
        assert (ours_body is None) == (their_body is None), key
        if ours_body:
            assert _object_shape(ours_body["schema"], contract) == _object_shape(
                their_body["schema"], generated
            ), key


def test_success_bodies_agree(contract: dict[str, Any], generated: dict[str, Any]) -> None:
    theirs = _operations(generated)
    for key, operation in _operations(contract).items():
        [status] = [code for code in operation["responses"] if code.startswith("2")]
        assert status in theirs[key]["responses"], (key, status)
        ours = operation["responses"][status]["content"]
        their = theirs[key]["responses"][status]["content"]
        # Same media types (/metrics is Prometheus text), and for JSON the same shape.
        assert sorted(ours) == sorted(their), key
        if "application/json" in ours:
            assert _object_shape(ours["application/json"]["schema"], contract) == _object_shape(
                their["application/json"]["schema"], generated
            ), key


def test_every_error_response_is_problem_json(contract: dict[str, Any]) -> None:
    for key, operation in _operations(contract).items():
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                content = _resolve(response, contract)["content"]
                assert list(content) == ["application/problem+json"], (key, status)


def test_every_error_code_the_service_raises_is_in_the_contract(contract: dict[str, Any]) -> None:
    # A problem body whose code the contract does not list breaks every client that reads it
    # as the closed list it is; the fuzzing met one only at random (CHECKPOINT_NOT_FOUND and
    # two more were added to the code but not to the contract).
    listed = set(contract["components"]["schemas"]["Problem"]["properties"]["code"]["enum"])

    assert {code.value for code in ErrorCode} - listed == set()


def test_authenticated_operations_document_401_403_and_429(contract: dict[str, Any]) -> None:
    for key, operation in _operations(contract).items():
        if operation.get("security") == []:
            continue
        assert {"401", "403", "429"} <= set(operation["responses"]), key


def test_operations_with_a_body_document_415_for_a_body_that_is_not_json(
    contract: dict[str, Any],
) -> None:
    for key, operation in _operations(contract).items():
        if "requestBody" in operation:
            assert "415" in operation["responses"], key


def test_the_contract_names_every_reason_a_token_can_be_refused_for(
    contract: dict[str, Any],
) -> None:
    problem = contract["components"]["schemas"]["Problem"]
    assert set(problem["properties"]["reason"]["enum"]) == UNAUTHENTICATED_REASONS
