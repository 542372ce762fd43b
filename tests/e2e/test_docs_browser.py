"""The documentation at /docs as a browser on a closed network shows it.

Debian's Chromium loads the page headless from a live service on 127.0.0.1 while every other
host is unreachable: the host resolver answers "not found" for every name and address but
127.0.0.1, and whatever still gets past it is sent to a proxy where nothing listens (with
Chromium's implicit bypass of loopback addresses removed, which would let 127.0.0.2 through).
``test_other_hosts_are_unreachable_under_the_browsers_flags`` shows that those flags do block
another host, and that without them the same page does reach it.

Set VOTER_DOCS_SCREENSHOT=docs/api-docs.png to also write the screenshot the README shows.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from service.api.app import CONTRACT_PATH, create_app
from tests.support import (
    NOW,
    Country,
    Keys,
    MovableClock,
    load_reference,
    make_settings,
    mock_transports,
    serving,
)

BROWSER_SECONDS = 60
PAGE_WAIT_SECONDS = 20
SCRIPT_BUDGET_MS = 10_000
OFFLINE_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>;127.0.0.1",
)
_CONSOLE_LINE = re.compile(r"INFO:CONSOLE.*")


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test, but Debian's chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def _headless(chromium: str, profile: Path, *arguments: str, offline: bool = True) -> list[str]:
    return [
        chromium,
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *(OFFLINE_FLAGS if offline else ()),
        *arguments,
    ]


def _render(
    chromium: str, profile: Path, url: str, *, offline: bool = True
) -> tuple[str, list[str]]:
    """The DOM once the page's scripts have run, and what the page wrote to its console."""
    finished = subprocess.run(
        _headless(
            chromium,
            profile,
            f"--virtual-time-budget={SCRIPT_BUDGET_MS}",
            "--dump-dom",
            url,
            offline=offline,
        ),
        capture_output=True,
        text=True,
        timeout=BROWSER_SECONDS,
        check=True,
    )
    return finished.stdout, _CONSOLE_LINE.findall(finished.stderr)


@pytest.fixture
def service_url(database_url: str, keys: Keys, country: Country) -> Iterator[str]:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    app = create_app(settings, clock=MovableClock(NOW), transports=mock_transports(country))
    with serving(app) as url:
        yield url


def _operations() -> list[tuple[str, str, str, str]]:
    """(tag, operationId, METHOD, path) of every operation of the contract."""
    contract: dict[str, Any] = yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))
    return [
        (operation["tags"][0], operation["operationId"], method.upper(), path)
        for path, item in contract["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_the_docs_render_every_operation_of_the_contract_with_other_hosts_unreachable(
    chromium: str, service_url: str, tmp_path: Path
) -> None:
    dom, console = _render(chromium, tmp_path / "profile", f"{service_url}/docs")

    # Swagger UI names each operation's block after its tag and operationId, and shows its
    # method and path in the summary line.
    for tag, operation_id, method, path in _operations():
        block = re.search(
            rf'id="operations-{re.escape(tag)}-{operation_id}".*?</button>', dom, re.S
        )
        assert block, f"{method} {path} ({operation_id}) is not on the page"
        assert f">{method}<" in block.group(0)
        assert f'data-path="{path}"' in block.group(0)
    assert "Voter eligibility service" in dom
    # A blocked asset, a refused inline script or style (the Content-Security-Policy) or a
    # failed fetch would each have left a line on the console.
    assert console == []

    screenshot = os.environ.get("VOTER_DOCS_SCREENSHOT")
    if screenshot:
        subprocess.run(
            _headless(
                chromium,
                tmp_path / "profile",
                f"--virtual-time-budget={SCRIPT_BUDGET_MS}",
                "--window-size=1280,900",
                "--hide-scrollbars",
                f"--screenshot={Path(screenshot).resolve()}",
                f"{service_url}/docs",
            ),
            capture_output=True,
            timeout=BROWSER_SECONDS,
            check=True,
        )


class _DevTools:
    """Chromium's DevTools protocol over --remote-debugging-pipe: JSON messages ended by NUL."""

    def __init__(self, chromium: str, profile: Path) -> None:
        to_browser, self._writer = os.pipe()
        self._reader, from_browser = os.pipe()

        def onto_fds_3_and_4() -> None:
            # Chromium reads commands from fd 3 and writes replies to fd 4; dup first, so the
            # copies are inheritable even if a pipe end already sits at 3 or 4.
            commands, replies = os.dup(to_browser), os.dup(from_browser)
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        self.process = subprocess.Popen(
            _headless(chromium, profile, "--remote-debugging-pipe", "about:blank"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=onto_fds_3_and_4,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._last_id = 0
        self._session: str | None = None

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params}
        if self._session:
            message["sessionId"] = self._session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + BROWSER_SECONDS
        while True:
            while b"\0" not in self._buffer:
                remaining = deadline - time.monotonic()
                ready, _, _ = select.select([self._reader], [], [], max(remaining, 0))
                assert ready, f"chromium did not answer {method}"
                chunk = os.read(self._reader, 1 << 16)
                assert chunk, "chromium closed its DevTools pipe"
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply: dict[str, Any] = json.loads(raw)
            if reply.get("id") == self._last_id:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply["result"]
                return result

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", url=url)["targetId"]
        self._session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]

    def evaluate(self, expression: str) -> Any:
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)[
            "result"
        ].get("value")

    def wait_for(self, expression: str) -> Any:
        deadline = time.monotonic() + PAGE_WAIT_SECONDS
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"the page never showed {expression}")

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        os.close(self._reader)
        os.close(self._writer)


def test_try_it_out_calls_the_service_that_serves_the_docs(
    chromium: str, service_url: str, tmp_path: Path
) -> None:
    browser = _DevTools(chromium, tmp_path / "profile")
    try:
        # The deep link opens the health check's block, as a reader's click would.
        browser.open(f"{service_url}/docs#/health/healthz")
        browser.wait_for("!!document.querySelector('#operations-health-healthz .try-out__btn')")
        browser.evaluate(
            "document.querySelector('#operations-health-healthz .try-out__btn').click()"
        )
        browser.wait_for("!!document.querySelector('#operations-health-healthz .execute')")
        browser.evaluate("document.querySelector('#operations-health-healthz .execute').click()")
        status = browser.wait_for(
            "document.querySelector('.live-responses-table tbody .response-col_status')"
            "?.textContent"
        )
        request_url = browser.evaluate("document.querySelector('.request-url pre').textContent")
        body = browser.evaluate(
            "document.querySelector('.live-responses-table .response-col_description pre')"
            ".textContent"
        )
    finally:
        browser.close()

    assert request_url == f"{service_url}/healthz"
    assert status.strip() == "200"
    assert json.loads(body) == {"status": "ok"}


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    """Serves a page that loads from two other hosts, and records every request it gets."""

    requests: ClassVar[list[str]] = []
    outside_port: ClassVar[int] = 0
    localhost_port: ClassVar[int] = 0

    def do_GET(self) -> None:
        self.requests.append(self.path)
        page = (
            f"<img src='http://127.0.0.2:{self.outside_port}/by-address.png'>"
            f"<script src='http://localhost:{self.localhost_port}/by-name.js'></script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_other_hosts_are_unreachable_under_the_browsers_flags(
    chromium: str, tmp_path: Path
) -> None:
    # Another address (127.0.0.2) and a name that resolves without the flags (localhost)
    # stand in for a CDN: both are reachable on this machine, unlike the internet.
    servers = [
        http.server.ThreadingHTTPServer((host, 0), _RecordingHandler)
        for host in ("127.0.0.1", "127.0.0.2", "127.0.0.1")
    ]
    page, outside, by_name = servers
    _RecordingHandler.outside_port = outside.server_address[1]
    _RecordingHandler.localhost_port = by_name.server_address[1]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{page.server_address[1]}/"
    try:
        _RecordingHandler.requests = []
        _render(chromium, tmp_path / "offline", url)
        offline = _RecordingHandler.requests
        _RecordingHandler.requests = []
        _render(chromium, tmp_path / "online", url, offline=False)
        online = _RecordingHandler.requests
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()

    assert "/" in offline
    assert "/by-address.png" not in offline
    assert "/by-name.js" not in offline
    # The control: without the flags the same page does reach both.
    assert "/by-address.png" in online
    assert "/by-name.js" in online
