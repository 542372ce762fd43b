"""Batch clients of both upstreams, for compiling whole voter lists (issue 5).

- registry ``POST /persons/lookup-batch {"iins": [...]}`` → one result per IIN, in order;
- registry ``POST /persons/iins {"cursor", "limit"}`` → the IINs in ascending order, paged;
- address service ``POST /registrations/lookup-batch {"iins": [...]}`` → likewise.

Faults are translated exactly as for the single lookups: a timeout, a connection error, any
status but 200, a body that does not validate, or an answer whose results are not the IINs
asked for, in that order, is ``UpstreamUnavailable``. A failed call is retried a bounded
number of times (these are reads); after that the fault is the caller's, never a guess.

Answers are validated straight into the domain's frozen dataclasses by pydantic-core (one
pass over the JSON, about 5 µs a person): twelve million persons leave no room for a model
per record and then a copy into the domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import httpx
from pydantic import ConfigDict, StringConstraints, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from service.adapters.resilience import RetryPolicy, UpstreamGuard
from service.adapters.upstream import about_someone_else, post_json, status_error
from service.domain.model import Person, Registration
from service.errors import UpstreamFailure, UpstreamUnavailable

REGISTRY = "registry"
ADDRESSES = "addresses"
PERSONS_BATCH_PATH = "/persons/lookup-batch"
IINS_PATH = "/persons/iins"
REGISTRATIONS_BATCH_PATH = "/registrations/lookup-batch"
MAX_BATCH = 1000
# The voter-list compiler's default: four attempts, a quarter second before the first retry.
DEFAULT_RETRY = RetryPolicy.doubling(attempts=4, first_wait_seconds=0.25)

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


class _BatchCaller:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        upstream: str,
        deadline_seconds: float,
        retry: RetryPolicy | None = None,
        guard: UpstreamGuard | None = None,
    ) -> None:
        if not deadline_seconds > 0:
            raise ValueError("deadline_seconds must be positive")
        self._client = client
        self._upstream = upstream
        self._deadline_seconds = deadline_seconds
        # With a guard (the service's online path) retries are the guard's: one attempt here.
        self._retry = retry or (RetryPolicy(attempts=1) if guard else DEFAULT_RETRY)
        self._guard = guard
        self._urls: dict[str, httpx.URL] = {}
        self.retries = 0

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        if url is None:
            # The client's own join of its base URL and ``path``, made once: parsing the URL
            # anew is a fifth of httpx's work for a call.
            url = self._urls[path] = self._client.build_request("POST", path).url
        return url

    def _fault(self, failure: UpstreamFailure) -> UpstreamUnavailable:
        return UpstreamUnavailable(upstream=self._upstream, failure=failure)

    async def _post_once(self, path: str, body: dict[str, Any]) -> bytes:
        """The body of a 200 answer, read whole within the deadline; any fault raised."""
        response = await post_json(
            self._client,
            self._url(path),
            body,
            upstream=self._upstream,
            deadline_seconds=self._deadline_seconds,
            guard=self._guard,
        )
        if response.status_code != httpx.codes.OK:
            # A batch answers 200 for found and not-found alike: any other status is a fault.
            raise self._fault(UpstreamFailure.STATUS) from status_error(response)
        return response.content

    async def call(self, path: str, body: dict[str, Any], read: TypeAdapter[T]) -> T:
        """POST ``body`` and validate the answer, retrying a failed attempt as the policy
        allows (stamina); the last fault is raised."""
        try:
            return await self._call_once(path, body, read)
        except UpstreamUnavailable as first:
            if self._retry.attempts == 1:
                raise
            # Only a failure pays for stamina's machinery; its first attempt re-raises this one.
            async for attempt in self._retry.attempts_on(UpstreamUnavailable):
                with attempt:
                    if attempt.num == 1:
                        raise first
                    self.retries += 1
                    return await self._call_once(path, body, read)
        raise AssertionError("unreachable: stamina re-raises the last failure")

    async def _call_once(self, path: str, body: dict[str, Any], read: TypeAdapter[T]) -> T:
        content = await self._post_once(path, body)
        try:
            return read.validate_json(content)
        except ValidationError as exc:
            raise self._fault(UpstreamFailure.MALFORMED) from exc


def _batch_body(iins: Sequence[str]) -> dict[str, Any]:
    if not 1 <= len(iins) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} IINs")
    return {"iins": list(iins)}


class BatchRegistryClient(_BatchCaller):
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        deadline_seconds: float,
        retry: RetryPolicy | None = None,
        guard: UpstreamGuard | None = None,
    ) -> None:
        super().__init__(
            client, upstream=REGISTRY, deadline_seconds=deadline_seconds, retry=retry, guard=guard
        )

    async def lookup_many(self, iins: Sequence[str]) -> list[Person | None]:
        """The person of each IIN, in order; None where the registry has none."""
        answer = await self.call(PERSONS_BATCH_PATH, _batch_body(iins), _PERSON_RESULTS)
        results = answer["results"]
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
        page = await self.call(IINS_PATH, {"cursor": cursor, "limit": limit}, _IIN_PAGE)
        return IinPage(page["iins"], page["cursor"], page["total"], page["snapshot"])


class BatchAddressClient(_BatchCaller):
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        deadline_seconds: float,
        retry: RetryPolicy | None = None,
        guard: UpstreamGuard | None = None,
    ) -> None:
        super().__init__(
            client, upstream=ADDRESSES, deadline_seconds=deadline_seconds, retry=retry, guard=guard
        )

    async def registrations_many(self, iins: Sequence[str]) -> list[tuple[Registration, ...]]:
        """Every registration of each IIN, in order; an empty tuple where there is none."""
        answer = await self.call(REGISTRATIONS_BATCH_PATH, _batch_body(iins), _REGISTRATION_RESULTS)
        results = answer["results"]
        if len(results) != len(iins):
            raise about_someone_else(self._upstream)
        registrations: list[tuple[Registration, ...]] = []
        for iin, result in zip(iins, results, strict=True):
            if result["iin"] != iin or any(r.iin != iin for r in result["registrations"]):
                raise about_someone_else(self._upstream)
            registrations.append(tuple(result["registrations"]))
        return registrations
