"""Mock address service: registrations by IIN, and addresses by RCA code.

- ``POST /registrations/lookup {iin}`` → ``{"registrations": [...]}`` (possibly empty);
- ``POST /registrations/lookup-batch {"iins": [...]}`` (1 to 1,000) → one result per IIN, in
  order: ``{"iin", "registrations": [...]}``;
- ``GET /addresses/{rca}`` → the address.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
from fastapi import FastAPI, Request, Response
from pydantic import TypeAdapter

from service.datafiles import RegistrationRecord, iter_records
from service.mocks.batch import read_batch, results_body
from service.mocks.problems import (
    JSON_MEDIA_TYPE,
    healthy,
    malformed_request,
    problem_response,
    read_lookup_iin,
)
from service.mocks.store import RecordStore, RecordStoreBuilder

NO_REGISTRATIONS_BODY = orjson.dumps({"registrations": []})
_REGISTRATION_JSON = TypeAdapter(RegistrationRecord)
_ADDRESS_FIELDS = ("rca", "kato", "street", "house", "flat")
# Where an RCA's describing record sits in the store: offset << _LENGTH_BITS | length.
_LENGTH_BITS = 20


@dataclass(frozen=True, slots=True)
class AddressBook:
    """Pre-serialised registrations in IIN order, and where each RCA's first line sits."""

    registrations: RecordStore
    addresses: dict[str, int]

    def registrations_of(self, iin: str) -> bytes:
        """The JSON array of this IIN's registrations, in file order."""
        held = self.registrations.all_of(iin)
        if len(held) == 1:
            return b"[%s]" % held[0]
        return b"[" + b",".join(held) + b"]"

    def address(self, rca: str) -> bytes | None:
        where = self.addresses.get(rca)
        if where is None:
            return None
        record = orjson.loads(
            self.registrations.at(where >> _LENGTH_BITS, where & ((1 << _LENGTH_BITS) - 1))
        )
        return orjson.dumps({field: record[field] for field in _ADDRESS_FIELDS})


def load_address_book(path: Path) -> AddressBook:
    """Every registration as its normalised JSON bytes (no per-record Python objects kept)."""
    builder = RecordStoreBuilder()
    addresses: dict[str, int] = {}
    for line_number, record in iter_records(path, RegistrationRecord):
        answer = _REGISTRATION_JSON.dump_json(record)
        offset = builder.add(record.iin, answer, line_number)
        # Several people share an address; the first line that names an RCA describes it.
        if record.rca is not None and record.rca not in addresses:
            addresses[record.rca] = offset << _LENGTH_BITS | len(answer)
    return AddressBook(registrations=builder.build(), addresses=addresses)


def create_addresses_app(data: Path) -> FastAPI:
    """The address-service mock serving ``data`` (registrations.jsonl)."""
    book = load_address_book(data)
    app = FastAPI(title="Address service (mock)")

    @app.post("/registrations/lookup")
    async def lookup_registrations(request: Request) -> Response:
        iin = await read_lookup_iin(request)
        if iin is None:
            return malformed_request()
        body = b'{"registrations":%s}' % book.registrations_of(iin)
        return Response(content=body, media_type=JSON_MEDIA_TYPE)

    @app.post("/registrations/lookup-batch")
    async def lookup_registrations_batch(request: Request) -> Response:
        iins = read_batch(await request.body())
        if iins is None:
            return malformed_request()
        body = results_body(
            [
                # The IIN was checked to be 12 digits: nothing in it needs escaping.
                b'{"iin":"%s","registrations":%s}'
                % (iin.encode("ascii"), book.registrations_of(iin))
                for iin in iins
            ]
        )
        return Response(content=body, media_type=JSON_MEDIA_TYPE)

    @app.get("/addresses/{rca}")
    async def get_address(rca: str) -> Response:
        body = book.address(rca)
        if body is None:
            return problem_response(status=404, title="Address not found", code="ADDRESS_NOT_FOUND")
        return Response(content=body, media_type=JSON_MEDIA_TYPE)

    @app.get("/healthz")
    async def healthz() -> Response:
        return healthy()

    return app
