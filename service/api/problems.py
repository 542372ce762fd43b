"""Errors to RFC 9457 problem+json, in one place. Domain code never raises HTTP errors."""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from service.domain.iin_text import redact_iin_shaped
from service.errors import (
    ErrorCode,
    RateLimited,
    ServiceError,
    Unauthenticated,
    UpstreamUnavailable,
)
from service.logs import REDACTED, get_logger
from service.messages import Language, message, negotiate

PROBLEM_MEDIA_TYPE = "application/problem+json"

STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.VALIDATION_FAILED: 422,
    ErrorCode.IIN_FORMAT: 422,
    ErrorCode.IIN_CHECKSUM: 422,
    ErrorCode.IIN_UNUSABLE: 422,
    ErrorCode.NOT_INDIVIDUAL: 422,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.PRECINCT_NOT_SERVED: 403,
    ErrorCode.ELECTION_NOT_FOUND: 404,
    ErrorCode.PRECINCT_NOT_FOUND: 404,
    ErrorCode.ELECTION_NOT_BY_CITIZENS: 422,
    ErrorCode.PRECINCT_OUTSIDE_TERRITORY: 422,
    ErrorCode.RESOURCE_NOT_FOUND: 404,
    ErrorCode.REGISTRATION_NOT_FOUND: 404,
    ErrorCode.OVERRIDE_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.IDEMPOTENCY_KEY_REQUIRED: 400,
    ErrorCode.IDEMPOTENCY_CONFLICT: 409,
    ErrorCode.NOT_ELIGIBLE: 422,
    ErrorCode.PRECINCT_NOT_DESIGNATED: 422,
    ErrorCode.HAS_REGISTRATION: 409,
    ErrorCode.ADDRESS_NOT_COVERED: 409,
    ErrorCode.REGISTERED_ABROAD: 409,
    ErrorCode.REGISTRATION_CLOSED: 409,
    ErrorCode.ALREADY_REGISTERED: 409,
    ErrorCode.ALREADY_ON_LIST: 409,
    ErrorCode.LIST_ENTRY_NOT_FOUND: 404,
    ErrorCode.LIST_ENTRY_NOT_ACTIVE: 409,
    ErrorCode.PRECINCT_NOT_SPECIAL: 422,
    ErrorCode.PRESENCE_LISTS_CLOSED: 409,
    ErrorCode.ABSENTEE_CERTIFICATE_NOT_FOUND: 404,
    ErrorCode.ABSENTEE_CERTIFICATE_ALREADY_ISSUED: 409,
    ErrorCode.ABSENTEE_CERTIFICATE_USED: 409,
    ErrorCode.ABSENTEE_CERTIFICATES_CLOSED: 409,
    ErrorCode.ABSENTEE_SERIALS_EXHAUSTED: 409,
    ErrorCode.NOT_ON_A_LIST: 422,
    ErrorCode.APPLICATIONS_CLOSED: 409,
    ErrorCode.STAY_ADDRESS_NOT_COVERED: 422,
    ErrorCode.MISSION_APPLICATIONS_CLOSED: 409,
    ErrorCode.PRECINCT_NOT_FOREIGN: 422,
    ErrorCode.REGISTRATION_NOT_ACTIVE: 409,
    ErrorCode.SELF_APPROVAL_FORBIDDEN: 403,
    ErrorCode.OVERRIDE_NOT_PENDING: 409,
    ErrorCode.OVERRIDE_NOT_ACTIVE: 409,
    ErrorCode.OVERRIDE_EXPIRED: 409,
    ErrorCode.OVERRIDE_CONFLICT: 409,
    ErrorCode.UNDO_PENDING: 409,
    ErrorCode.UNDO_NOT_PENDING: 409,
    ErrorCode.SELF_CONFIRMATION_FORBIDDEN: 403,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.ACCOUNT_HELD: 403,
    ErrorCode.HOLD_NOT_ACTIVE: 409,
    ErrorCode.SELF_LIFT_FORBIDDEN: 403,
    ErrorCode.UNDETERMINED: 503,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.TREE_SIZE_UNKNOWN: 404,
    ErrorCode.PROOF_RANGE_INVALID: 422,
    ErrorCode.CHECKPOINT_NOT_FOUND: 404,
    ErrorCode.COSIGNATURE_INVALID: 422,
    ErrorCode.WITNESS_NOT_REGISTERED: 403,
    ErrorCode.INTERNAL_ERROR: 500,
}

_log = get_logger("service.api.problems")


def problem_response(
    code: ErrorCode,
    *,
    request_id: str,
    language: Language,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response:
    status = STATUS_BY_CODE[code]
    body: dict[str, Any] = {
        "type": f"urn:voter-eligibility:problem:{code.value}",
        "title": message(code.value, language),
        "status": status,
        "detail": message(code.value, language),
        "code": code.value,
        "request_id": request_id,
    }
    # Extensions add members; they never replace the RFC 9457 ones set above.
    body.update({k: v for k, v in (extensions or {}).items() if k not in body})
    all_headers = {"Content-Language": language.value, **(headers or {})}
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=all_headers
    )


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


def _language_of(request: Request) -> Language:
    return negotiate(request.headers.get("accept-language"))


def _safe_location(loc: tuple[Any, ...]) -> str:
    # Field names come from the caller and could themselves be an IIN: never echo one.
    return redact_iin_shaped(".".join(str(part) for part in loc), REDACTED)[:128]


# Pydantic names a closed list's values as "'a', 'b' or 'c'": our schema's text, not input.
_CLOSED_LIST_ERRORS = frozenset({"enum", "literal_error"})
_QUOTED = re.compile(r"'([^']*)'")


def _error_detail(error: Any) -> dict[str, Any]:
    """Where and why a field was refused, and for a closed list, the values it takes."""
    detail: dict[str, Any] = {"field": _safe_location(tuple(error["loc"])), "type": error["type"]}
    expected = (error.get("ctx") or {}).get("expected")
    if error["type"] in _CLOSED_LIST_ERRORS and isinstance(expected, str):
        detail["allowed"] = _QUOTED.findall(expected)
    return detail


def _bearer_challenge(reason: str) -> str:
    """RFC 6750 §3: the challenge names the error only when a bearer token was sent; the
    reason is a stable code, never the token or a claim."""
    challenge = 'Bearer realm="voter-eligibility"'
    if reason == Unauthenticated.NO_BEARER_TOKEN:
        return challenge
    description = f"token refused: {reason.replace('_', ' ')}"
    return f'{challenge}, error="invalid_token", error_description="{description}"'


async def on_service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = _bearer_challenge(exc.reason)
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    if STATUS_BY_CODE[exc.code] == 503:
        headers["Retry-After"] = str(request.app.state.settings.retry_after_seconds)
    extensions = dict(exc.extensions)
    if isinstance(exc, UpstreamUnavailable):
        extensions.setdefault("outcome", "undetermined")
        extensions.setdefault("upstream", exc.upstream)
    return problem_response(
        exc.code,
        request_id=request_id_of(request),
        language=_language_of(request),
        headers=headers,
        extensions=extensions,
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        code = ErrorCode.MALFORMED_REQUEST
    else:
        code = ErrorCode.VALIDATION_FAILED
    details = [_error_detail(e) for e in errors[:20]]
    return problem_response(
        code,
        request_id=request_id_of(request),
        language=_language_of(request),
        extensions={"errors": details},
    )


_HTTP_CODES = {
    400: ErrorCode.MALFORMED_REQUEST,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.RESOURCE_NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.VALIDATION_FAILED,
}


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.INTERNAL_ERROR)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first route that matched the path; list them all.
        headers["Allow"] = ", ".join(_methods_for(request))
    return problem_response(
        code, request_id=request_id_of(request), language=_language_of(request), headers=headers
    )


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _methods_for(request: Request) -> list[str]:
    """The methods some route serves at this path, asked of the router itself: included
    routers hold their routes out of sight of ``app.routes``, so only matching finds them."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    _log.error("http.unhandled_error", exc_info=exc)
    return problem_response(
        ErrorCode.INTERNAL_ERROR, request_id=request_id_of(request), language=_language_of(request)
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
