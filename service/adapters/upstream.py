"""Calling an upstream with an overall deadline and translating its faults at the edge.

Every fault becomes ``UpstreamUnavailable`` with the original exception as its cause, so
callers branch on one type while logs and debuggers still see what really happened.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from service.adapters.resilience import (
    RETRYABLE,
    Admission,
    BulkheadFull,
    CircuitOpen,
    RetryableStatus,
    RetryPolicy,
    UpstreamGuard,
)
from service.adapters.transport import upstream_transport
from service.errors import UpstreamFailure, UpstreamUnavailable
from service.logs import get_logger

DEFAULT_MAX_CONNECTIONS = 100
# The result of an answered lookup, beside the values of ``UpstreamFailure``.
UPSTREAM_OK = "ok"

_log = get_logger("service.upstream")
_JSON = {"content-type": "application/json"}


class UpstreamObserver(Protocol):
    """Told the result and duration of each lookup (metrics); never of a cancelled one."""

    def observe_upstream(self, *, upstream: str, result: str, seconds: float) -> None: ...


class _Unobserved:
    def observe_upstream(self, *, upstream: str, result: str, seconds: float) -> None:
        pass


UNOBSERVED: UpstreamObserver = _Unobserved()


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


class UpstreamCaller:
    """POSTs JSON to one upstream through its client, under its guard, within a deadline.

    httpx's own timeouts bound each read or write separately, so a server trickling bytes
    could hold a request for far longer; the deadline bounds the call as a whole, retries and
    their backoff included. Without a guard a call gets one attempt.
    """

    __slots__ = ("_client", "_deadline_seconds", "_urls", "guard", "upstream")

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        upstream: str,
        deadline_seconds: float,
        guard: UpstreamGuard | None = None,
    ) -> None:
        if not deadline_seconds > 0:
            raise ValueError("deadline_seconds must be positive")
        self._client = client
        self.upstream = upstream
        self._deadline_seconds = deadline_seconds
        self.guard = guard or UpstreamGuard(upstream, retry=RetryPolicy(attempts=1))
        self._urls: dict[str, httpx.URL] = {}

    def fault(self, failure: UpstreamFailure) -> UpstreamUnavailable:
        return UpstreamUnavailable(upstream=self.upstream, failure=failure)

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        if url is None:
            # The client's own join of its base URL and ``path``, made once: parsing the URL
            # anew is a fifth of httpx's work for a call.
            url = self._urls[path] = self._client.build_request("POST", path).url
        return url

    async def post(self, path: str, content: bytes) -> httpx.Response:
        """The upstream's answer to POSTing the JSON ``content`` to ``path``.

        Any answer is returned, a 5xx that outlived its retries included (for the caller to
        report as a status fault); no answer is ``UpstreamUnavailable``: a timeout, a
        connection fault, an undecodable body, or a call the breaker or the bulkhead refused.
        """
        breaker = self.guard.breaker
        admission = Admission.CALL if breaker is None else breaker.admit()
        if admission is Admission.REFUSED:
            raise self.fault(UpstreamFailure.CIRCUIT_OPEN) from CircuitOpen()
        url = self._url(path)
        deadline_at = asyncio.get_running_loop().time() + self._deadline_seconds
        try:
            try:
                return await self._attempt(url, content, deadline_at)
            except RETRYABLE as first:
                if self.guard.retry.attempts == 1:
                    raise
                # The common case, a first attempt that is answered, costs no retry
                # machinery (stamina's loop costs ~50 µs a call); the retries are stamina's.
                return await self._retry(url, content, first, deadline_at)
        except RetryableStatus as exhausted:
            return exhausted.response
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise self.fault(UpstreamFailure.TIMEOUT) from exc
        except httpx.DecodingError as exc:
            raise self.fault(UpstreamFailure.MALFORMED) from exc
        # OSError: injected transports do not all wrap every socket error in httpx's types.
        except (httpx.RequestError, OSError) as exc:
            raise self.fault(UpstreamFailure.CONNECTION) from exc
        finally:
            if admission is Admission.PROBE and breaker is not None:
                breaker.abandon_probe()

    async def _retry(
        self, url: httpx.URL, content: bytes, first: Exception, deadline_at: float
    ) -> httpx.Response:
        guard = self.guard
        loop = asyncio.get_running_loop()

        def is_worth_retrying(exc: Exception) -> bool:
            return guard.may_retry(exc, now=loop.time(), deadline_at=deadline_at)

        # stamina's first attempt re-raises the first failure, so every backoff is its own.
        async for attempt in guard.retry.attempts_on(is_worth_retrying):
            with attempt:
                if attempt.num == 1:
                    raise first
                guard.retries += 1
                _log.info(
                    "upstream.retry",
                    upstream=self.upstream,
                    attempt=attempt.num,
                    after=type(first).__name__,
                )
                return await self._attempt(url, content, deadline_at)
        raise AssertionError("unreachable: stamina re-raises the last failure")

    async def _attempt(self, url: httpx.URL, content: bytes, deadline_at: float) -> httpx.Response:
        guard = self.guard
        bulkhead = guard.bulkhead
        if bulkhead is not None:
            if bulkhead.locked():
                try:
                    async with asyncio.timeout_at(deadline_at):
                        await bulkhead.acquire()
                except TimeoutError:
                    raise self.fault(UpstreamFailure.SATURATED) from BulkheadFull()
            else:
                await bulkhead.acquire()
        breaker = guard.breaker
        guard.calls += 1
        try:
            async with asyncio.timeout_at(deadline_at):
                response = await self._client.post(url, content=content, headers=_JSON)
        except Exception:
            # Not CancelledError (a BaseException): a caller giving up, say because the
            # other upstream already failed the check, says nothing about this one.
            if breaker is not None:
                breaker.record_failure()
            raise
        finally:
            if bulkhead is not None:
                bulkhead.release()
        if response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
            if breaker is not None:
                breaker.record_failure()
            raise RetryableStatus(response)
        if breaker is not None:
            breaker.record_success()
        return response


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
