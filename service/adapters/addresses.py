"""Client of the address service: ``POST /registrations/lookup {iin}``."""

from __future__ import annotations

import time

import httpx
import orjson
from pydantic import BaseModel, ConfigDict

from service.adapters.resilience import UpstreamGuard
from service.adapters.upstream import (
    UNOBSERVED,
    UPSTREAM_OK,
    UpstreamCaller,
    UpstreamObserver,
    about_someone_else,
    read_answer,
)
from service.datafiles import RegistrationRecord
from service.domain.model import Registration
from service.errors import UpstreamUnavailable

UPSTREAM = "addresses"
LOOKUP_PATH = "/registrations/lookup"

# Validation errors end up chained in tracebacks: they must not quote the IIN.
_ANSWER_CONFIG = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class _RegistrationAnswer(RegistrationRecord):
    model_config = _ANSWER_CONFIG


class _RegistrationsAnswer(BaseModel):
    model_config = _ANSWER_CONFIG

    registrations: list[_RegistrationAnswer]


class AddressClient:
    """The address service one person per call, for an upstream without the batch endpoints."""

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

    async def registrations(self, iin: str) -> tuple[Registration, ...]:
        """Every registration of this (already validated) IIN; empty if there are none.

        Raises UpstreamUnavailable on a timeout, connection error, unexpected status or
        an answer that is not a valid list of registrations of this IIN.
        """
        started = time.perf_counter()
        try:
            response = await self._caller.post(LOOKUP_PATH, orjson.dumps({"iin": iin}))
            answer = read_answer(response, _RegistrationsAnswer, upstream=UPSTREAM)
            records = () if answer is None else answer.registrations
            if any(record.iin != iin for record in records):
                raise about_someone_else(UPSTREAM)
        except UpstreamUnavailable as exc:
            self._observer.observe_upstream(
                upstream=UPSTREAM, result=str(exc.failure), seconds=time.perf_counter() - started
            )
            raise
        self._observer.observe_upstream(
            upstream=UPSTREAM, result=UPSTREAM_OK, seconds=time.perf_counter() - started
        )
        return tuple(record.to_domain() for record in records)
