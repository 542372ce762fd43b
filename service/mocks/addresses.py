"""Mock address service: registrations by IIN, and addresses by RCA code."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

from service.datafiles import RegistrationRecord, iter_records
from service.mocks.problems import (
    JSON_MEDIA_TYPE,
    healthy,
    malformed_request,
    problem_response,
    read_lookup_iin,
)

NO_REGISTRATIONS_BODY = orjson.dumps({"registrations": []})


@dataclass(frozen=True, slots=True)
class AddressBook:
    """Pre-serialised answers: the registrations body per IIN and the address per RCA."""

    registrations: dict[str, bytes]
    addresses: dict[str, bytes]


def _address_json(record: RegistrationRecord) -> dict[str, Any]:
    return {
        "rca": record.rca,
        "kato": record.kato,
        "street": record.street,
        "house": record.house,
        "flat": record.flat,
    }


def load_address_book(path: Path) -> AddressBook:
    by_iin: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    addresses: dict[str, bytes] = {}
    for _, record in iter_records(path, RegistrationRecord):
        by_iin[record.iin].append(record.model_dump(mode="json"))
        # Several people share an address; the first line that names an RCA describes it.
        if record.rca is not None and record.rca not in addresses:
            addresses[record.rca] = orjson.dumps(_address_json(record))
    registrations = {iin: orjson.dumps({"registrations": lines}) for iin, lines in by_iin.items()}
    return AddressBook(registrations=registrations, addresses=addresses)


def create_addresses_app(data: Path) -> FastAPI:
    """The address-service mock serving ``data`` (registrations.jsonl)."""
    book = load_address_book(data)
    app = FastAPI(title="Address service (mock)")

    @app.post("/registrations/lookup")
    async def lookup_registrations(request: Request) -> Response:
        iin = await read_lookup_iin(request)
        if iin is None:
            return malformed_request()
        body = book.registrations.get(iin, NO_REGISTRATIONS_BODY)
        return Response(content=body, media_type=JSON_MEDIA_TYPE)

    @app.get("/addresses/{rca}")
    async def get_address(rca: str) -> Response:
        body = book.addresses.get(rca)
        if body is None:
            return problem_response(status=404, title="Address not found", code="ADDRESS_NOT_FOUND")
        return Response(content=body, media_type=JSON_MEDIA_TYPE)

    @app.get("/healthz")
    async def healthz() -> Response:
        return healthy()

    return app
