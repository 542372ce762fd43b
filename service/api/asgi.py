"""The application as uvicorn's worker processes build it: configured from VOTER_* only."""

from __future__ import annotations

from fastapi import FastAPI

from service.api.app import create_app
from service.config import Settings
from service.logs import configure_logging


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory``: each worker process configures itself."""
    settings = Settings()
    json_output = None if settings.log_format == "auto" else settings.log_format == "json"
    configure_logging(json_output=json_output)
    return create_app(settings)
