"""Wire details of the mocks' batch routes: ``{"iins": [...]}`` bodies and joined answers.

A batch answer is assembled from the pre-serialised records by joining bytes, so serving a
thousand persons costs about as much as copying them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

MAX_BATCH = 1000
MAX_PAGE = 100_000

IinShape = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]


class BatchRequest(BaseModel):
    # Input values are hidden so a validation error can never carry an IIN anywhere.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    iins: Annotated[list[IinShape], Field(min_length=1, max_length=MAX_BATCH)]


class PageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    cursor: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}$")] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)]


def read_batch(body: bytes) -> list[str] | None:
    """The IINs of a batch body, or None when it is not a valid batch request."""
    try:
        return BatchRequest.model_validate_json(body).iins
    except ValidationError:
        return None


def read_page(body: bytes) -> PageRequest | None:
    try:
        return PageRequest.model_validate_json(body)
    except ValidationError:
        return None


def results_body(parts: list[bytes]) -> bytes:
    """``{"results": [part, ...]}`` from already serialised parts."""
    return b'{"results":[' + b",".join(parts) + b"]}"
