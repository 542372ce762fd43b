"""Client of the address service: ``POST /registrations/lookup {iin}``."""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict

from service.adapters.resilience import UpstreamGuard
from service.adapters.upstream import about_someone_else, check_deadline, post_lookup, read_answer
from service.datafiles import RegistrationRecord
from service.domain.model import Registration

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
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        deadline_seconds: float,
        guard: UpstreamGuard | None = None,
    ) -> None:
        self._client = client
        self._deadline_seconds = check_deadline(deadline_seconds)
        self._guard = guard

    async def registrations(self, iin: str) -> tuple[Registration, ...]:
        """Every registration of this (already validated) IIN; empty if there are none.

        Raises UpstreamUnavailable on a timeout, connection error, unexpected status or
        an answer that is not a valid list of registrations of this IIN.
        """
        response = await post_lookup(
            self._client,
            LOOKUP_PATH,
            iin,
            upstream=UPSTREAM,
            deadline_seconds=self._deadline_seconds,
            guard=self._guard,
        )
        answer = read_answer(response, _RegistrationsAnswer, upstream=UPSTREAM)
        if answer is None:
            return ()
        if any(record.iin != iin for record in answer.registrations):
            raise about_someone_else(UPSTREAM)
        return tuple(record.to_domain() for record in answer.registrations)
