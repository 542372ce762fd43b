"""POST /v1/eligibility/check without FastAPI's per-request machinery (issue 5).

The check is voting day's hot route, and FastAPI's routing, dependency solving and body
handling cost more CPU per request than the check's own Python work (BENCHMARKS.md). This
ASGI layer answers the request shape the front ends send, a JSON body that validates with no
query string and headers within their declared bounds, with the same authentication, role
check, rate limit, use case, presenter and problem handlers as the route. Every other request
goes on, byte for byte, to the FastAPI route, which stays the definition of the contract; so a
malformed or unusual request gets exactly the answer it always got.
``tests/e2e/test_check_fast_path.py`` holds the two paths to the same answers.

It sits inside ``RequestContextMiddleware`` (request id, body bound, the canonical log line and
the request metrics) and outside FastAPI's exception middleware, so it maps the errors it can
raise itself; anything unexpected propagates to the same 500 handler as the route's would.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.deps import DECIDER_ROLES, authenticate, ensure_role
from service.api.problems import on_service_error
from service.api.routes.eligibility import checked_decision_json
from service.api.schemas import EligibilityCheckRequest
from service.bootstrap import AppServices
from service.errors import ServiceError
from service.messages import negotiate

CHECK_PATH = "/v1/eligibility/check"
# The bounds the route declares on these headers (service/api/deps.py): past them, the route
# answers, with its 422.
_HEADER_BOUNDS = {b"accept-language": 256, b"x-request-id": 128}
_JSON = "application/json"


def _replay(messages: Sequence[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives back what was already read, then reads on."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _is_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media_type, _, parameters = content_type.decode("latin-1").partition(";")
    if media_type.strip().lower() != _JSON:
        return False
    charset = parameters.strip().lower()
    return charset in ("", "charset=utf-8")


class EligibilityFastPath:
    def __init__(self, app: ASGIApp, *, route: BaseRoute) -> None:
        self.app = app
        # The route's template and metrics labels come from scope["route"], as for the route.
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != CHECK_PATH
            or scope["method"] != "POST"
            or scope.get("query_string")
        ):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            # The first of repeated headers, as Starlette's ``Headers.get`` gives.
            headers.setdefault(name, value)
        if any(len(headers.get(name, b"")) > bound for name, bound in _HEADER_BOUNDS.items()):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body: EligibilityCheckRequest | None = None
        if messages[-1]["type"] == "http.request" and _is_json(headers.get(b"content-type")):
            try:
                body = EligibilityCheckRequest.model_validate_json(b"".join(chunks))
            except ValidationError:
                body = None
        if body is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        await self._answer(scope, headers, body, receive, send)

    async def _answer(
        self,
        scope: Scope,
        headers: dict[bytes, bytes],
        body: EligibilityCheckRequest,
        receive: Receive,
        send: Send,
    ) -> None:
        scope["route"] = self.route
        services: AppServices = scope["app"].state.services
        language_header = headers.get(b"accept-language")
        language = negotiate(language_header.decode("latin-1") if language_header else None)
        request_id = str(scope.get("state", {}).get("request_id", "-"))
        response: Response
        try:
            authorization = headers.get(b"authorization", b"").decode("latin-1")
            caller = ensure_role(authenticate(services, authorization), DECIDER_ROLES)
            content = await checked_decision_json(
                services, body, caller=caller, language=language, request_id=request_id
            )
            response = Response(content, media_type=_JSON)
        except ServiceError as exc:
            response = await on_service_error(Request(scope, receive), exc)
        await response(scope, receive, send)
