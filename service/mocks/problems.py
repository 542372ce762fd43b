"""Wire details shared by the mock upstreams: the lookup body and problem+json answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

PROBLEM_MEDIA_TYPE = "application/problem+json"
JSON_MEDIA_TYPE = "application/json"
HEALTHY_BODY = b'{"status":"ok"}'


class LookupRequest(BaseModel):
    # Input values are hidden so a validation error can never carry an IIN anywhere.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    # Shape only: an IIN with a wrong check digit is simply never found, as upstream.
    iin: Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]


class ProblemBody(BaseModel):
    type: str
    title: str
    status: int
    code: str


def problem_response(*, status: int, title: str, code: str) -> Response:
    body = ProblemBody(type="about:blank", title=title, status=status, code=code)
    return Response(
        content=body.model_dump_json(), status_code=status, media_type=PROBLEM_MEDIA_TYPE
    )


def malformed_request() -> Response:
    return problem_response(status=422, title="Malformed request", code="MALFORMED_REQUEST")


async def read_lookup_iin(request: Request) -> str | None:
    """The IIN of a lookup body, or None when the body is not a valid lookup request."""
    try:
        return LookupRequest.model_validate_json(await request.body()).iin
    except ValidationError:
        return None


def healthy() -> Response:
    return Response(content=HEALTHY_BODY, media_type=JSON_MEDIA_TYPE)
