"""The default upstream transport (aiohttp under httpx) against real sockets.

A raw asyncio server plays a broken upstream byte by byte, so the faults are the ones a real
network produces, not ones a fake transport imagines. Whatever goes wrong must come out as an
httpx error (which the adapters translate into ``undetermined``), never as an aiohttp one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from service.adapters.upstream import build_upstream_client

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

OK_BODY = b'{"registrations": []}'


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":", 1)[1]))


async def well_formed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        try:
            await _read_request(reader)
        except asyncio.IncompleteReadError:
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(OK_BODY), OK_BODY)
        )
        await writer.drain()


async def garbage_status_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    await writer.drain()
    writer.close()


async def cut_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n{"regis')
    await writer.drain()
    writer.close()


async def reset_before_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.transport.abort()


@pytest.fixture
async def upstream(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    reply: Reply = request.param
    server = await asyncio.start_server(reply, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


async def post(base_url: str) -> httpx.Response:
    async with build_upstream_client(base_url, timeout=httpx.Timeout(2.0)) as client:
        response = await client.post("/registrations/lookup", json={"iin": "x"})
        await response.aread()
        return response


@pytest.mark.parametrize("upstream", [well_formed], indirect=True)
async def test_a_well_formed_answer_comes_through_and_the_connection_is_reused(
    upstream: str,
) -> None:
    async with build_upstream_client(upstream, timeout=httpx.Timeout(2.0)) as client:
        answers = [await client.post("/registrations/lookup", json={"iin": "x"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all(a.json() == {"registrations": []} for a in answers)


@pytest.mark.parametrize(
    "upstream", [garbage_status_line, cut_mid_body, reset_before_answer], indirect=True
)
async def test_a_broken_answer_is_an_httpx_error_never_an_aiohttp_one(upstream: str) -> None:
    with pytest.raises(httpx.TransportError) as caught:
        await post(upstream)
    # The message names the failure's type only: aiohttp's own messages quote server text.
    assert "NOT HTTP" not in str(caught.value)


async def test_a_closed_port_is_a_connection_error() -> None:
    server = await asyncio.start_server(well_formed, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(httpx.TransportError):
        await post(f"http://127.0.0.1:{port}")
