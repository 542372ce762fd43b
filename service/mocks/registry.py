"""Mock population registry: ``POST /persons/lookup {iin}`` → the person, or 404."""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi import FastAPI, Request, Response

from service.datafiles import DataFileError, PersonRecord, iter_records, person_to_json
from service.mocks.problems import (
    JSON_MEDIA_TYPE,
    healthy,
    malformed_request,
    problem_response,
    read_lookup_iin,
)


def load_persons(path: Path) -> dict[str, bytes]:
    """Person JSON by IIN, serialised once at load time.

    The registry mock is meant to hold millions of persons: plain bytes cost a fraction of
    the memory of pydantic objects and are answered without re-serialising.
    """
    persons: dict[str, bytes] = {}
    for line_number, record in iter_records(path, PersonRecord):
        if record.iin in persons:
            raise DataFileError(path, line_number, "iin: duplicate")
        persons[record.iin] = orjson.dumps(person_to_json(record.to_domain()))
    return persons


def create_registry_app(data: Path) -> FastAPI:
    """The registry mock serving ``data`` (population.jsonl); a bad line raises DataFileError."""
    persons = load_persons(data)
    app = FastAPI(title="Population registry (mock)")

    @app.post("/persons/lookup")
    async def lookup_person(request: Request) -> Response:
        iin = await read_lookup_iin(request)
        if iin is None:
            return malformed_request()
        body = persons.get(iin)
        if body is None:
            return problem_response(status=404, title="Person not found", code="PERSON_NOT_FOUND")
        return Response(content=body, media_type=JSON_MEDIA_TYPE)

    @app.get("/healthz")
    async def healthz() -> Response:
        return healthy()

    return app
