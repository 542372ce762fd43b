"""JSON request bodies, read the same way by every operation that takes one.

A body must say it is JSON (415 otherwise) and be JSON, each name once per object (400
otherwise). The check reads its own body with :func:`parse_json_body`; every other route is
a :class:`JsonBodyRoute`, which reads the body the same way before FastAPI looks at it.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from service.errors import ErrorCode, ServiceError

JSON_MEDIA_TYPE = "application/json"


def is_json_media_type(content_type: str) -> bool:
    if content_type == JSON_MEDIA_TYPE:
        return True
    parsed = email.message.Message()
    parsed["content-type"] = content_type
    subtype = parsed.get_content_subtype()
    return parsed.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class _DuplicateName(Exception):
    pass


def _object_with_unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Called for objects only, so scalars and arrays parse at full speed.
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _DuplicateName
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_object_with_unique_names)


def parse_json_body(raw: bytes, content_type: str | None) -> Any:
    """The value of a non-empty body, or the problem that refuses it.

    A member named twice in one object is malformed (I-JSON, RFC 7493 §2.3), not "last one
    wins": parsers disagree on which counts, so a proxy or a log line could read another IIN
    than the one decided on. Like any unreadable body it is a 400, before authentication.
    """
    if content_type is None or not is_json_media_type(content_type):
        raise ServiceError(ErrorCode.UNSUPPORTED_MEDIA_TYPE)
    try:
        # json.loads would build a decoder per call for the hook; this one is built once.
        return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except _DuplicateName:
        # The name is the caller's own text and is not echoed.
        errors = [{"field": "body", "type": "json_duplicate_key"}]
        raise ServiceError(ErrorCode.MALFORMED_REQUEST, errors=errors) from None
    except json.JSONDecodeError as exc:
        errors = [{"field": f"body.{exc.pos}", "type": "json_invalid"}]
        raise ServiceError(ErrorCode.MALFORMED_REQUEST, errors=errors) from None
    except ValueError:  # not UTF-8, UTF-16 or UTF-32
        raise ServiceError(ErrorCode.MALFORMED_REQUEST) from None


class _ParsedBodyRequest(Request):
    """A request whose JSON body was already read and parsed by :func:`parse_json_body`."""

    parsed: Any = None

    async def json(self) -> Any:
        return self.parsed


class JsonBodyRoute(APIRoute):
    """A FastAPI route whose JSON body is read by :func:`parse_json_body`.

    FastAPI would treat a body of another media type as bytes (a 422 about the fields) and
    wrap any parsing failure but its own into a bare 400; reading the body first gives every
    route the check's answers.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def read_body_first(request: Request) -> Response:
            parsed_request = _ParsedBodyRequest(request.scope, request.receive)
            raw = await parsed_request.body()
            if raw:
                content_type = parsed_request.headers.get("content-type")
                parsed_request.parsed = parse_json_body(raw, content_type)
            return await handler(parsed_request)

        return read_body_first
