"""Starts service processes quickly for the crash test: import once, fork one server per start.

Importing the service takes seconds on a busy two-core machine, and a test that kills and
restarts the server twenty times would spend its time importing. This launcher imports the
service once and forks a fresh process per start; that process builds the app from the VOTER_*
variables and serves it with uvicorn as `voterctl serve` does, and it is what gets killed. The
launcher itself never opens the database, so no connection crosses a fork.

Run as ``python -m tests.server_launcher``; one command per line on stdin, one reply per line
on stdout: ``start FACTORY PORT LOG`` -> the pid; ``kill PID`` (SIGKILL) or ``stop PID``
(SIGTERM) -> ``done`` once the process is gone.
"""

from __future__ import annotations

import os
import signal
import sys

import uvicorn

import service.api.asgi  # noqa: F401 - the import is the point: children inherit it
import tests.early_ack_app  # noqa: F401


def _serve(factory: str, port: int, log: str) -> None:
    sink = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(sink, 1)
    os.dup2(sink, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    status = 1
    try:
        uvicorn.run(
            factory,
            factory=True,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            proxy_headers=False,
        )
        status = 0
    finally:
        # Never return into the launcher's loop, whatever happened.
        os._exit(status)


def _end(pid: int, signal_number: int) -> None:
    os.kill(pid, signal_number)
    os.waitpid(pid, 0)


def main() -> None:
    children: set[int] = set()
    try:
        for line in sys.stdin:
            command, *arguments = line.split()
            if command == "start":
                factory, port, log = arguments
                sys.stdout.flush()
                pid = os.fork()
                if pid == 0:
                    _serve(factory, int(port), log)
                children.add(pid)
                print(pid, flush=True)
            elif command in ("kill", "stop"):
                pid = int(arguments[0])
                _end(pid, signal.SIGKILL if command == "kill" else signal.SIGTERM)
                children.discard(pid)
                print("done", flush=True)
    finally:
        for pid in children:
            _end(pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
