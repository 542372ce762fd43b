"""POST /v1/eligibility/check: the decision (SPEC §11).

Voting day's hot route skips FastAPI's per-request dependency solving and body handling,
which cost more CPU than the check's own work (BENCHMARKS.md): its endpoint takes the bare
request. It takes the steps a FastAPI route declaring these parameters would take, in the
same order, and raises the same errors into the same problem handlers: the body is read
and parsed as every route's is (service.api.bodies: 415 for a body that is not JSON, 400 for
malformed JSON or a member named twice), unknown query parameters are refused, the caller
is authenticated and admitted (401, 403, 429), then headers and body are validated together
(422).
``contracts/openapi.yaml`` defines the operation; the contract tests hold this to it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.bodies import JSON_MEDIA_TYPE, parse_json_body
from service.api.deps import DECIDER_ROLES, authenticate, ensure_role
from service.api.presenters import precinct_ref, reasons_out, receipt_out
from service.api.problems import request_id_of
from service.api.schemas import DecisionOut, EligibilityCheckRequest, NextStepOut
from service.bootstrap import AppServices
from service.domain.precincts import PrecinctDirectory
from service.errors import InvalidInput
from service.messages import Language, message, negotiate
from service.usecases.eligibility import RecordedDecision

CHECK_PATH = "/v1/eligibility/check"
_REQUEST = TypeAdapter(EligibilityCheckRequest)
# (header, name in error locations, the contract's maximum length)
_HEADER_BOUNDS = (
    ("accept-language", "Accept-Language", 256),
    ("x-request-id", "X-Request-ID", 128),
)
_NO_BODY = object()


def decision_out(
    recorded: RecordedDecision, *, directory: PrecinctDirectory, language: Language
) -> DecisionOut:
    decision = recorded.decision
    return DecisionOut(
        decision_id=recorded.decision_id,
        election_id=recorded.election.id,
        outcome=decision.outcome.value,
        reasons=reasons_out([r.value for r in decision.reasons], language),
        precinct=precinct_ref(directory, decision.precinct_id),
        basis=decision.basis.value if decision.basis else None,
        next_steps=[
            NextStepOut(
                code=step.code.value,
                message=message(step.code.value, language),
                precinct_ids=list(step.precinct_ids),
            )
            for step in decision.next_steps
        ],
        ruleset=decision.ruleset,
        registry_data_as_of=decision.registry_data_as_of,
        decided_at=recorded.decided_at,
        override_id=decision.override_id,
        audit=receipt_out(recorded.receipt),
    )


async def check_eligibility(request: Request) -> Response:
    body = await _parsed_body(request)
    if request.scope["query_string"] and request.query_params:
        # The names are the caller's own text and could be anything: never echoed back.
        raise InvalidInput(errors=[{"field": "query", "type": "unknown_parameter"}])
    services: AppServices = request.app.state.services
    caller = ensure_role(
        authenticate(services, request.headers.get("authorization", "")), DECIDER_ROLES
    )
    checked = _validated(request, body)
    recorded = await services.eligibility.check(
        raw_iin=checked.iin,
        election_id=checked.election_id,
        caller=caller,
        request_id=request_id_of(request),
    )
    structlog.contextvars.bind_contextvars(outcome=recorded.decision.outcome.value)
    reference = await services.reference.current()
    language = negotiate(request.headers.get("accept-language"))
    decision = decision_out(recorded, directory=reference.directory, language=language)
    # Built from validated values already: serialised once, never validated again.
    return Response(decision.model_dump_json().encode(), media_type=JSON_MEDIA_TYPE)


async def _parsed_body(request: Request) -> Any:
    """The body's JSON value (415 when it is not JSON, 400 when it is malformed)."""
    raw = await request.body()
    if not raw:
        return _NO_BODY
    return parse_json_body(raw, request.headers.get("content-type"))


def _validated(request: Request, body: Any) -> EligibilityCheckRequest:
    errors: list[dict[str, Any]] = [
        {"type": "string_too_long", "loc": ("header", name)}
        for header, name, bound in _HEADER_BOUNDS
        if len(request.headers.get(header, "")) > bound
    ]
    checked: EligibilityCheckRequest | None = None
    if body is _NO_BODY:
        errors.append({"type": "missing", "loc": ("body",)})
    else:
        try:
            checked = _REQUEST.validate_python(body, from_attributes=True)
        except ValidationError as exc:
            errors.extend({**e, "loc": ("body", *e["loc"])} for e in exc.errors())
    if errors or checked is None:
        raise RequestValidationError(errors)
    return checked


class _SelfParsingRoute(APIRoute):
    """A FastAPI route whose endpoint takes the bare request and does its own parsing.

    FastAPI documents it from the declared models and it names itself in the scope (metrics
    and log lines label requests by the route's path), but it is matched and run as a plain
    Starlette route: no dependencies to solve, so none of FastAPI's per-request machinery.
    """

    def __init__(self, path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        super().__init__(
            path,
            endpoint,
            methods=["POST"],
            response_model=DecisionOut,
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON_MEDIA_TYPE: {"schema": EligibilityCheckRequest.model_json_schema()}
                    },
                }
            },
        )
        self.app = _answering(endpoint)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = Route.matches(self, scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Route.handle(self, scope, receive, send)


def _answering(endpoint: Callable[[Request], Awaitable[Response]]) -> ASGIApp:
    """``endpoint`` as an ASGI app. Unlike Starlette's ``request_response`` it adds no exception
    layer of its own: what the endpoint raises goes to the application's exception middleware,
    which renders it with the same problem handlers."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


def install(app: FastAPI) -> None:
    """Add the check to ``app``: first, since routes are tried in order and it is most of
    the traffic, and not through an included router, whose matching runs twice."""
    app.router.routes.append(_SelfParsingRoute(CHECK_PATH, check_eligibility))
