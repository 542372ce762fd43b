"""Batch clients of both upstreams: the check's coalesced lookups and the voter-list compiler.

- registry ``POST /persons/lookup-batch {"iins": [...]}`` → one result per IIN, in order;
- registry ``POST /persons/iins {"cursor", "limit"}`` → the IINs in ascending order, paged;
- address service ``POST /registrations/lookup-batch {"iins": [...]}`` → likewise.

Faults are translated exactly as for the single lookups: a timeout, a connection error, any
status but 200, a body that does not validate, or an answer whose results are not the IINs
asked for, in that order, is ``UpstreamUnavailable``. A call without an answer (a timeout,
a connection fault, a 5xx) is retried as its guard allows (these are reads); after that the
fault is the caller's, never a guess.

Answers are validated straight into the domain's frozen dataclasses by pydantic-core (one
pass over the JSON, about 5 µs a person): twelve million persons leave no room for a model
per record and then a copy into the domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

import httpx
import orjson
from pydantic import ConfigDict, StringConstraints, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from service.adapters.resilience import UpstreamGuard
from service.adapters.upstream import UpstreamCaller, about_someone_else, status_error
from service.domain.model import Person, Registration
from service.errors import UpstreamFailure

REGISTRY = "registry"
ADDRESSES = "addresses"
PERSONS_BATCH_PATH = "/persons/lookup-batch"
IINS_PATH = "/persons/iins"
REGISTRATIONS_BATCH_PATH = "/registrations/lookup-batch"
MAX_BATCH = 1000

_STRICT_INPUT = ConfigDict(hide_input_in_errors=True)
IinShape = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]


class _PersonResult(TypedDict):
    __pydantic_config__ = _STRICT_INPUT  # type: ignore[misc]
    iin: IinShape
    found: bool
    person: Person | None


class _PersonResults(TypedDict):
    __pydantic_config__ = _STRICT_INPUT  # type: ignore[misc]
    results: list[_PersonResult]


class _RegistrationResult(TypedDict):
    __pydantic_config__ = _STRICT_INPUT  # type: ignore[misc]
    iin: IinShape
    registrations: list[Registration]


class _RegistrationResults(TypedDict):
    __pydantic_config__ = _STRICT_INPUT  # type: ignore[misc]
    results: list[_RegistrationResult]


class _IinPage(TypedDict):
    __pydantic_config__ = _STRICT_INPUT  # type: ignore[misc]
    iins: list[IinShape]
    cursor: str | None
    total: int
    snapshot: str


T = TypeVar("T")

_PERSON_RESULTS = TypeAdapter(_PersonResults)
_REGISTRATION_RESULTS = TypeAdapter(_RegistrationResults)
_IIN_PAGE = TypeAdapter(_IinPage)


@dataclass(frozen=True, slots=True)
class IinPage:
    """One page of the registry's IINs; ``cursor`` is opaque, None after the last page."""

    iins: list[str]
    cursor: str | None
    total: int
    snapshot: str


class _BatchClient:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        upstream: str,
        deadline_seconds: float,
        guard: UpstreamGuard | None = None,
    ) -> None:
        self._caller = UpstreamCaller(
            client, upstream=upstream, deadline_seconds=deadline_seconds, guard=guard
        )
        self._upstream = upstream

    def _read(self, response: httpx.Response, read: TypeAdapter[T]) -> T:
        """The validated body of a 200 answer; any other answer is a fault."""
        if response.status_code != httpx.codes.OK:
            # A batch answers 200 for found and not-found alike: any other status is a fault.
            raise self._caller.fault(UpstreamFailure.STATUS) from status_error(response)
        try:
            return read.validate_json(response.content)
        except ValidationError as exc:
            raise self._caller.fault(UpstreamFailure.MALFORMED) from exc


def _batch_body(iins: Sequence[str]) -> bytes:
    if not 1 <= len(iins) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} IINs")
    return orjson.dumps({"iins": list(iins)})


class BatchRegistryClient(_BatchClient):
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        deadline_seconds: float,
        guard: UpstreamGuard | None = None,
    ) -> None:
        super().__init__(client, upstream=REGISTRY, deadline_seconds=deadline_seconds, guard=guard)

    async def lookup_many(self, iins: Sequence[str]) -> list[Person | None]:
        """The person of each IIN, in order; None where the registry has none."""
        response = await self._caller.post(PERSONS_BATCH_PATH, _batch_body(iins))
        results = self._read(response, _PERSON_RESULTS)["results"]
        if len(results) != len(iins):
            raise about_someone_else(self._upstream)
        persons: list[Person | None] = []
        for iin, result in zip(iins, results, strict=True):
            person = result["person"]
            if result["iin"] != iin or (person is None) == result["found"]:
                raise about_someone_else(self._upstream)
            if person is not None and person.iin != iin:
                raise about_someone_else(self._upstream)
            persons.append(person)
        return persons

    async def iins_page(self, cursor: str | None, limit: int) -> IinPage:
        """The next ``limit`` IINs after ``cursor`` (None: from the start)."""
        body = orjson.dumps({"cursor": cursor, "limit": limit})
        page = self._read(await self._caller.post(IINS_PATH, body), _IIN_PAGE)
        return IinPage(page["iins"], page["cursor"], page["total"], page["snapshot"])


class BatchAddressClient(_BatchClient):
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        deadline_seconds: float,
        guard: UpstreamGuard | None = None,
    ) -> None:
        super().__init__(client, upstream=ADDRESSES, deadline_seconds=deadline_seconds, guard=guard)

    async def registrations_many(self, iins: Sequence[str]) -> list[tuple[Registration, ...]]:
        """Every registration of each IIN, in order; an empty tuple where there is none."""
        response = await self._caller.post(REGISTRATIONS_BATCH_PATH, _batch_body(iins))
        results = self._read(response, _REGISTRATION_RESULTS)["results"]
        if len(results) != len(iins):
            raise about_someone_else(self._upstream)
        registrations: list[tuple[Registration, ...]] = []
        for iin, result in zip(iins, results, strict=True):
            if result["iin"] != iin or any(r.iin != iin for r in result["registrations"]):
                raise about_someone_else(self._upstream)
            registrations.append(tuple(result["registrations"]))
        return registrations
