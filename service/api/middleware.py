"""Request id, body size bound, no caching of personal data and the one canonical log line
per request (pure ASGI)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

import structlog
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.problems import problem_response
from service.domain.iin_text import holds_iin_shaped
from service.errors import ErrorCode
from service.logs import get_logger
from service.messages import negotiate

REQUEST_ID_HEADER = "x-request-id"
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

UNMATCHED_ROUTE = "unmatched"
# Every /v1 answer speaks of a person or a decision, refusals included: no cache may keep one.
# Health, readiness and metrics hold nothing personal and are left to the caller's caches;
# so are the public aggregates, the one /v1 route that sets a Cache-Control of its own.
_PERSONAL_PREFIX = "/v1/"
_NO_STORE = (b"cache-control", b"no-store")

_log = get_logger("service.http")


class RequestObserver(Protocol):
    def observe_request(self, *, route: str, method: str, status: int, seconds: float) -> None: ...


def _observer(scope: Scope) -> RequestObserver | None:
    # The metrics are built by the lifespan, after this middleware: look them up per request.
    services = getattr(getattr(scope.get("app"), "state", None), "services", None)
    observer: RequestObserver | None = getattr(services, "metrics", None)
    return observer


def new_request_id() -> str:
    # Redaction would blank an id that happened to hold 12 digits in a row; draw another.
    while holds_iin_shaped(candidate := uuid.uuid4().hex):
        pass
    return candidate


class BodyTooLarge(HTTPException):
    """Raised from ``receive``; FastAPI re-raises HTTP exceptions met while reading a body."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Binds a request id to every log line and writes one ``http.request`` line at the end.

    Handlers add facts to the canonical line with ``structlog.contextvars.bind_contextvars``
    (for example the outcome of a decision); they appear on that line and on every other
    line logged during the request.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, larger_bodies: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Paths whose bodies may be larger than ``max_body_bytes`` (a presence list).
        self.larger_bodies = dict(larger_bodies or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, REQUEST_ID_HEADER.encode())
        # A caller's id holding an IIN would be echoed and written into audit entries.
        acceptable = (
            incoming is not None
            and _ACCEPTABLE_REQUEST_ID.match(incoming) is not None
            and not holds_iin_shaped(incoming)
        )
        request_id = incoming if acceptable and incoming is not None else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}
        is_personal = scope["path"].startswith(_PERSONAL_PREFIX)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if is_personal and not any(name == _NO_STORE[0] for name, _ in headers):
                    headers.append(_NO_STORE)
                message["headers"] = headers
            await send(message)

        async def too_large() -> None:
            language = negotiate(_header(scope, b"accept-language"))
            response = problem_response(
                ErrorCode.PAYLOAD_TOO_LARGE, request_id=request_id, language=language
            )
            await response(scope, receive, send_with_id)

        bound = max(self.max_body_bytes, self.larger_bodies.get(scope["path"], 0))
        try:
            declared = _header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > bound:
                await too_large()
                return
            received = 0

            async def bounded_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > bound:
                        raise BodyTooLarge
                return message

            try:
                await self.app(scope, bounded_receive, send_with_id)
            except BodyTooLarge:
                await too_large()
        finally:
            # The template, never the path itself: a path can hold ids without bound.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            elapsed_seconds = time.perf_counter() - started
            _log.info(
                "http.request",
                method=scope["method"],
                route=route,
                status=status["code"],
                duration_ms=round(elapsed_seconds * 1000, 2),
            )
            observer = _observer(scope)
            if observer is not None:
                observer.observe_request(
                    route=route,
                    method=scope["method"],
                    status=status["code"],
                    seconds=elapsed_seconds,
                )
            structlog.contextvars.clear_contextvars()
