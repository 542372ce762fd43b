from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import stamina
from fastapi.testclient import TestClient

from service.logs import configure_logging
from tests.databases import drop_database, new_database_url, on_postgres
from tests.support import (
    Country,
    Keys,
    load_reference,
    make_keys,
    make_settings,
    mock_transports,
    running_app,
    write_country,
)


def pytest_configure(config: pytest.Config) -> None:
    # The service's own logging pipeline (redaction included) for every test, on stderr.
    configure_logging(json_output=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL-only tests skip on a developer's machine without it, and fail in CI."""
    if on_postgres():
        return
    for item in items:
        if "postgres" in item.keywords:
            if os.environ.get("CI"):
                # First, so the failure says why before any PostgreSQL fixture runs.
                item.fixturenames.insert(0, "_postgres_is_required")  # type: ignore[attr-defined]
            else:
                item.add_marker(pytest.mark.skip(reason="VOTER_TEST_POSTGRES_URL is not set"))


@pytest.fixture
def _postgres_is_required() -> None:
    pytest.fail("CI must run the PostgreSQL tests, but VOTER_TEST_POSTGRES_URL is not set")


@pytest.fixture(autouse=True)
def _retries_without_backoff() -> Iterator[None]:
    """stamina's test mode: no backoff sleeps, at most the 3 attempts the service allows.

    ``with stamina.set_testing(False):`` in a test measures the real jittered backoff.
    """
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


@pytest.fixture(scope="session")
def keys() -> Keys:
    return make_keys()


@pytest.fixture
def country(tmp_path: Path) -> Country:
    return write_country(tmp_path / "country")


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """The service database for one test: SQLite, or a fresh PostgreSQL database."""
    url = new_database_url(tmp_path)
    yield url
    if on_postgres():
        drop_database(url)


@pytest.fixture
def client(database_url: str, keys: Keys, country: Country) -> Iterator[TestClient]:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country)) as (_, test_client):
        yield test_client
