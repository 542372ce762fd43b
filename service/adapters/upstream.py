"""Calling an upstream with an overall deadline and translating its faults at the edge.

Every fault becomes ``UpstreamUnavailable`` with the original exception as its cause, so
callers branch on one type while logs and debuggers still see what really happened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
import orjson
from pydantic import BaseModel, ValidationError

from service.adapters.resilience import UpstreamGuard
from service.adapters.transport import upstream_transport
from service.errors import UpstreamFailure, UpstreamUnavailable

DEFAULT_MAX_CONNECTIONS = 100


class SubjectMismatch(ValueError):
    """The upstream answered about someone other than the person asked for."""

    def __init__(self) -> None:
        # Deliberately without either IIN: this ends up in tracebacks.
        super().__init__("upstream answered about a different IIN")


def build_upstream_client(
    base_url: str,
    *,
    timeout: httpx.Timeout,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """One long-lived client per upstream, sending through aiohttp's pool unless ``transport``
    is given (tests inject fakes): see service/adapters/transport.py.

    ``max_connections`` bounds the default transport's pool and is ignored when a transport
    is given: an injected transport brings its own.
    """
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        transport=transport or upstream_transport(max_connections),
        headers={"accept": "application/json"},
        follow_redirects=False,
    )


def check_deadline(deadline_seconds: float) -> float:
    if not deadline_seconds > 0:
        raise ValueError("deadline_seconds must be positive")
    return deadline_seconds


async def post_lookup(
    client: httpx.AsyncClient,
    path: str,
    iin: str,
    *,
    upstream: str,
    deadline_seconds: float,
    guard: UpstreamGuard | None = None,
) -> httpx.Response:
    """POST ``{"iin": ...}``: see ``post_json``."""
    return await post_json(
        client,
        path,
        {"iin": iin},
        upstream=upstream,
        deadline_seconds=deadline_seconds,
        guard=guard,
    )


_JSON = {"content-type": "application/json"}


async def post_json(
    client: httpx.AsyncClient,
    path: str | httpx.URL,
    body: Mapping[str, Any],
    *,
    upstream: str,
    deadline_seconds: float,
    guard: UpstreamGuard | None = None,
) -> httpx.Response:
    """POST ``body`` as JSON and read the whole answer within ``deadline_seconds``.

    httpx's own timeouts bound each read or write separately, so a server trickling bytes
    could hold a request for far longer; the deadline bounds the call as a whole, retries
    and their backoff included when a ``guard`` (service.adapters.resilience) is given.
    """
    content = orjson.dumps(body)
    try:
        if guard is not None:
            return await guard.send(
                lambda: client.post(path, content=content, headers=_JSON),
                deadline_seconds=deadline_seconds,
            )
        async with asyncio.timeout(deadline_seconds):
            return await client.post(path, content=content, headers=_JSON)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise UpstreamUnavailable(upstream=upstream, failure=UpstreamFailure.TIMEOUT) from exc
    except httpx.DecodingError as exc:
        raise UpstreamUnavailable(upstream=upstream, failure=UpstreamFailure.MALFORMED) from exc
    # OSError: injected transports do not all wrap every socket error in httpx's types.
    except (httpx.RequestError, OSError) as exc:
        raise UpstreamUnavailable(upstream=upstream, failure=UpstreamFailure.CONNECTION) from exc


NOT_FOUND_CODE = "PERSON_NOT_FOUND"


def is_person_not_found(response: httpx.Response) -> bool:
    """A 404 that the upstream itself gave about the person, not one from a wrong URL.

    A misconfigured base URL or a proxy answers a bare 404 too; taking that as "no such
    person" would turn an outage into ``ineligible`` for everyone, so it is a fault instead.
    """
    if response.status_code != httpx.codes.NOT_FOUND:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("code") == NOT_FOUND_CODE


M = TypeVar("M", bound=BaseModel)


def read_answer(response: httpx.Response, model: type[M], *, upstream: str) -> M | None:
    """The validated body of a 200; None for the upstream's own not-found; else a fault."""
    if is_person_not_found(response):
        return None
    if response.status_code != httpx.codes.OK:
        raise UpstreamUnavailable(
            upstream=upstream, failure=UpstreamFailure.STATUS
        ) from status_error(response)
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise UpstreamUnavailable(upstream=upstream, failure=UpstreamFailure.MALFORMED) from exc


def about_someone_else(upstream: str) -> UpstreamUnavailable:
    """The fault to raise when an answer concerns another IIN than the one asked."""
    error = UpstreamUnavailable(upstream=upstream, failure=UpstreamFailure.MALFORMED)
    error.__cause__ = SubjectMismatch()
    return error


def status_error(response: httpx.Response) -> httpx.HTTPStatusError:
    """The cause to chain for an answer whose status the protocol does not allow."""
    return httpx.HTTPStatusError(
        f"unexpected status {response.status_code}",
        request=response.request,
        response=response,
    )
