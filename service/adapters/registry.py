"""Client of the population registry: ``POST /persons/lookup {iin}``."""

from __future__ import annotations

import time

import httpx
import orjson
from pydantic import ConfigDict

from service.adapters.resilience import UpstreamGuard
from service.adapters.upstream import (
    UNOBSERVED,
    UPSTREAM_OK,
    UpstreamCaller,
    UpstreamObserver,
    about_someone_else,
    read_answer,
)
from service.datafiles import PersonRecord
from service.domain.model import Person
from service.errors import UpstreamUnavailable

UPSTREAM = "registry"
LOOKUP_PATH = "/persons/lookup"


class _PersonAnswer(PersonRecord):
    # Validation errors end up chained in tracebacks: they must not quote the IIN.
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class RegistryClient:
    """The registry one person per call, for an upstream without the batch endpoints."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        deadline_seconds: float,
        guard: UpstreamGuard | None = None,
        observer: UpstreamObserver = UNOBSERVED,
    ) -> None:
        self._caller = UpstreamCaller(
            client, upstream=UPSTREAM, deadline_seconds=deadline_seconds, guard=guard
        )
        self._observer = observer

    async def lookup(self, iin: str) -> Person | None:
        """The person with this (already validated) IIN, or None if the registry has none.

        Raises UpstreamUnavailable on a timeout, connection error, unexpected status or
        an answer that is not a valid person record for this IIN.
        """
        started = time.perf_counter()
        try:
            response = await self._caller.post(LOOKUP_PATH, orjson.dumps({"iin": iin}))
            record = read_answer(response, _PersonAnswer, upstream=UPSTREAM)
            if record is not None and record.iin != iin:
                raise about_someone_else(UPSTREAM)
        except UpstreamUnavailable as exc:
            self._observer.observe_upstream(
                upstream=UPSTREAM, result=str(exc.failure), seconds=time.perf_counter() - started
            )
            raise
        self._observer.observe_upstream(
            upstream=UPSTREAM, result=UPSTREAM_OK, seconds=time.perf_counter() - started
        )
        return None if record is None else record.to_domain()
