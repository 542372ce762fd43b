"""Client of the population registry: ``POST /persons/lookup {iin}``."""

from __future__ import annotations

import httpx
from pydantic import ConfigDict

from service.adapters.resilience import UpstreamGuard
from service.adapters.upstream import about_someone_else, check_deadline, post_lookup, read_answer
from service.datafiles import PersonRecord
from service.domain.model import Person

UPSTREAM = "registry"
LOOKUP_PATH = "/persons/lookup"


class _PersonAnswer(PersonRecord):
    # Validation errors end up chained in tracebacks: they must not quote the IIN.
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class RegistryClient:
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

    async def lookup(self, iin: str) -> Person | None:
        """The person with this (already validated) IIN, or None if the registry has none.

        Raises UpstreamUnavailable on a timeout, connection error, unexpected status or
        an answer that is not a valid person record for this IIN.
        """
        response = await post_lookup(
            self._client,
            LOOKUP_PATH,
            iin,
            upstream=UPSTREAM,
            deadline_seconds=self._deadline_seconds,
            guard=self._guard,
        )
        record = read_answer(response, _PersonAnswer, upstream=UPSTREAM)
        if record is None:
            return None
        if record.iin != iin:
            raise about_someone_else(UPSTREAM)
        return record.to_domain()
