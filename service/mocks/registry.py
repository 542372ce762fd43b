"""Mock population registry.

- ``POST /persons/lookup {iin}`` → the person, or a ``PERSON_NOT_FOUND`` 404;
- ``POST /persons/lookup-batch {"iins": [...]}`` (1 to 1,000) → one result per IIN, in order:
  ``{"iin", "found": true, "person": {...}}`` or ``{"iin", "found": false, "person": null}``;
- ``POST /persons/iins {"cursor", "limit"}`` → every IIN in ascending order, a page at a time:
  ``{"iins": [...], "cursor": "<opaque>" | null, "total": n, "snapshot": "<digest>"}``. The
  cursor is opaque (here a position); ``snapshot`` changes when the registry's data does, so a
  walk resumed later can tell that its cursor no longer means what it meant.

IINs travel in POST bodies only, never in URLs.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from pydantic import TypeAdapter

from service.datafiles import DataFileError, PersonRecord, iter_records
from service.mocks.batch import read_batch, read_page, results_body
from service.mocks.problems import (
    JSON_MEDIA_TYPE,
    healthy,
    malformed_request,
    problem_response,
    read_lookup_iin,
)
from service.mocks.store import RecordStore, RecordStoreBuilder

_PERSON_JSON = TypeAdapter(PersonRecord)


def load_persons(path: Path) -> RecordStore:
    """Person JSON in IIN order, serialised once at load time.

    The registry mock is meant to hold twelve million persons: each is validated, then kept
    as its normalised JSON bytes in one buffer (no per-record Python objects), and answered
    without re-serialising.
    """
    builder = RecordStoreBuilder()
    for line_number, record in iter_records(path, PersonRecord):
        builder.add(record.iin, _PERSON_JSON.dump_json(record), line_number)
    store = builder.build()
    duplicate = store.first_duplicate_line()
    if duplicate is not None:
        raise DataFileError(path, duplicate, "iin: duplicate")
    return store


def _batch_result(iin: str, person: memoryview | None) -> bytes:
    # The IIN was checked to be 12 digits: nothing in it needs escaping.
    if person is None:
        return b'{"iin":"%s","found":false,"person":null}' % iin.encode("ascii")
    return b'{"iin":"%s","found":true,"person":%s}' % (iin.encode("ascii"), person)


def _page_body(store: RecordStore, *, position: int, limit: int, snapshot: str) -> bytes:
    iins = store.iins_page(position, limit)
    end = position + len(iins)
    cursor = b'"%d"' % end if end < len(store) else b"null"
    listed = b",".join(b'"%s"' % iin.encode() for iin in iins)
    return b'{"iins":[%s],"cursor":%s,"total":%d,"snapshot":"%s"}' % (
        listed,
        cursor,
        len(store),
        snapshot.encode(),
    )


def create_registry_app(data: Path) -> FastAPI:
    """The registry mock serving ``data`` (population.jsonl); a bad line raises DataFileError."""
    persons = load_persons(data)
    snapshot = persons.snapshot()
    app = FastAPI(title="Population registry (mock)")

    @app.post("/persons/lookup")
    async def lookup_person(request: Request) -> Response:
        iin = await read_lookup_iin(request)
        if iin is None:
            return malformed_request()
        body = persons.one(iin)
        if body is None:
            return problem_response(status=404, title="Person not found", code="PERSON_NOT_FOUND")
        return Response(content=bytes(body), media_type=JSON_MEDIA_TYPE)

    @app.post("/persons/lookup-batch")
    async def lookup_persons(request: Request) -> Response:
        iins = read_batch(await request.body())
        if iins is None:
            return malformed_request()
        body = results_body([_batch_result(iin, persons.one(iin)) for iin in iins])
        return Response(content=body, media_type=JSON_MEDIA_TYPE)

    @app.post("/persons/iins")
    async def list_iins(request: Request) -> Response:
        page = read_page(await request.body())
        if page is None:
            return malformed_request()
        position = int(page.cursor) if page.cursor is not None else 0
        if position > len(persons):
            return malformed_request()
        body = _page_body(persons, position=position, limit=page.limit, snapshot=snapshot)
        return Response(content=body, media_type=JSON_MEDIA_TYPE)

    @app.get("/healthz")
    async def healthz() -> Response:
        return healthy()

    return app
