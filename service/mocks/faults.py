"""Fault injection for the mock upstreams: slow, failing, hanging, garbled and dropped answers.

An ASGI middleware around the whole mock app, so every route (single and batch lookups,
addresses) misbehaves alike; only ``GET /healthz`` is spared, so start-up waits and readiness
probes still see a live process. One draw of a seeded ``random.Random`` per request picks the
fault: the same seed gives the same sequence of faults in request order.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from enum import StrEnum

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.mocks.problems import PROBLEM_MEDIA_TYPE, ProblemBody

# Longer than any client deadline the service accepts (VOTER_UPSTREAM_DEADLINE_SECONDS <= 30).
HANG_SECONDS = 120.0
EXEMPT_PATHS = frozenset({"/healthz"})
ERROR_STATUSES = (500, 503)
WRONG_SHAPE_BODY = b'{"unexpected": ["this", "is", "not", "the", "record"]}'
RESET_PREFIX = b'{"iin": "'
RESET_CONTENT_LENGTH = 512


class Fault(StrEnum):
    ERROR = "error"
    TIMEOUT = "timeout"
    MALFORMED = "malformed"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class FaultProfile:
    """How a mock misbehaves. Rates are per request; together at most 1."""

    latency_ms: int = 0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    malformed_rate: float = 0.0
    reset_rate: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        rates = self.rates()
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if any(not 0.0 <= rate <= 1.0 for rate in rates.values()):
            raise ValueError("every fault rate must lie between 0 and 1")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError("the fault rates add up to more than 1")

    def rates(self) -> dict[Fault, float]:
        return {
            Fault.ERROR: self.error_rate,
            Fault.TIMEOUT: self.timeout_rate,
            Fault.MALFORMED: self.malformed_rate,
            Fault.RESET: self.reset_rate,
        }

    @property
    def is_active(self) -> bool:
        return self.latency_ms > 0 or any(self.rates().values())


class InjectedReset(ConnectionResetError):
    """Raised by the middleware to drop a connection mid-answer; never a real fault."""

    def __init__(self) -> None:
        super().__init__("fault injection: connection dropped mid-answer")


class FaultInjection:
    """Pure ASGI middleware: one draw per request, then the chosen fault or the real answer."""

    def __init__(self, app: ASGIApp, *, profile: FaultProfile) -> None:
        self._app = app
        self._latency_seconds = profile.latency_ms / 1000
        self._random = random.Random(profile.seed)  # noqa: S311 - reproducible chaos, not secrets
        # Cumulative thresholds: a draw below the first picks the first fault, and so on.
        self._thresholds: list[tuple[float, Fault]] = []
        total = 0.0
        for fault, rate in profile.rates().items():
            if rate > 0:
                total += rate
                self._thresholds.append((total, fault))

    def draw(self) -> Fault | None:
        roll = self._random.random()
        for threshold, fault in self._thresholds:
            if roll < threshold:
                return fault
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self._app(scope, receive, send)
            return
        fault = self.draw()
        if self._latency_seconds:
            await asyncio.sleep(self._latency_seconds)
        if fault is None:
            await self._app(scope, receive, send)
        elif fault is Fault.ERROR:
            await self._send_error(send)
        elif fault is Fault.TIMEOUT:
            await _hang(receive)
        elif fault is Fault.MALFORMED:
            await self._send_malformed(scope, receive, send)
        else:
            await _drop_mid_answer(send)

    async def _send_error(self, send: Send) -> None:
        status = self._random.choice(ERROR_STATUSES)
        body = ProblemBody(
            type="about:blank", title="Injected upstream fault", status=status, code="FAULT"
        ).model_dump_json()
        await _send_whole(send, status=status, body=body.encode(), media_type=PROBLEM_MEDIA_TYPE)

    async def _send_malformed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A 200 whose body is the real answer cut short (invalid JSON) or of the wrong shape."""
        if self._random.random() < 0.5:
            await _send_whole(send, status=200, body=WRONG_SHAPE_BODY)
            return
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self._app(scope, receive, keep)
        whole = b"".join(chunks)
        await _send_whole(send, status=200, body=whole[: max(1, len(whole) // 2)])


async def _send_whole(
    send: Send, *, status: int, body: bytes, media_type: str = "application/json"
) -> None:
    headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _hang(receive: Receive) -> None:
    """Answer nothing until the client gives up (or HANG_SECONDS pass).

    Ending on the client's disconnect keeps hung requests from piling up in the server and
    from holding up its shutdown.
    """

    async def until_disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(until_disconnected(), HANG_SECONDS)
    except TimeoutError:
        return


async def _drop_mid_answer(send: Send) -> None:
    """Promise a body, send a few bytes of it, then drop the connection.

    Over real HTTP the server closes the socket and the client reads a truncated message;
    in process (``httpx.ASGITransport``) the exception reaches the client as a socket error.
    """
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(RESET_CONTENT_LENGTH).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": RESET_PREFIX, "more_body": True})
    raise InjectedReset


class _WithoutInjectedResets(logging.Filter):
    """Drop the server's error line for a reset the middleware caused on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedReset))


def inject_faults(app: FastAPI, profile: FaultProfile) -> FastAPI:
    """``app`` wrapped so it misbehaves as ``profile`` says; unchanged if the profile is calm."""
    if profile.is_active:
        app.add_middleware(FaultInjection, profile=profile)
        server_log = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, _WithoutInjectedResets) for f in server_log.filters):
            server_log.addFilter(_WithoutInjectedResets())
    return app
