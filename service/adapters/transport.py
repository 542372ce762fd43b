"""The default HTTP transport for upstream calls: aiohttp's connection pool under httpx's API.

httpx's own pool (httpcore) costs several times the CPU of aiohttp's per request once many
requests are in flight (encode/httpx issue 3215; SPEC §9; measured in bench/), so the service
keeps httpx as its client API and sends through ``httpx_aiohttp.AiohttpTransport``.

That transport maps the common aiohttp errors to httpx's, but lets others through (a malformed
status line, say). Here every aiohttp error becomes an ``httpx.TransportError``, on the request
and while the body streams, so the adapters' single fault translation still sees every fault.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

# Keep-alive connections are reused for this long: well past the gap between checks under load.
KEEPALIVE_SECONDS = 30.0


class _Stream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(type(exc).__name__) from exc

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(type(exc).__name__) from exc


class UpstreamTransport(AiohttpTransport):
    """``AiohttpTransport`` whose every aiohttp error surfaces as an httpx error."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except aiohttp.ClientError as exc:
            # The type name only: aiohttp's messages quote URLs and server text.
            raise httpx.TransportError(type(exc).__name__) from exc
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _Stream(stream)
        return response


def upstream_transport(max_connections: int) -> httpx.AsyncBaseTransport:
    """A pooled aiohttp transport holding at most ``max_connections`` connections."""
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=KEEPALIVE_SECONDS,
    )
    return UpstreamTransport(limits=limits, trust_env=False)
