"""Stand-ins for the population registry and the address service (SPEC §9).

Each mock is a separate FastAPI app serving a data file, so the service talks to it over
real HTTP exactly as it would to the production upstream.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI


def mock_server_config(app: FastAPI, *, host: str, port: int) -> uvicorn.Config:
    # Request lines carry no IINs (those travel in bodies), but a mock under load testing
    # would drown the console in access lines.
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)


def serve_mock(app: FastAPI, *, host: str, port: int) -> None:
    """Run a mock app with uvicorn until interrupted."""
    uvicorn.Server(mock_server_config(app, host=host, port=port)).run()
