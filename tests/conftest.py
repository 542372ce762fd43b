from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.logs import configure_logging
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


@pytest.fixture(scope="session")
def keys() -> Keys:
    return make_keys()


@pytest.fixture
def country(tmp_path: Path) -> Country:
    return write_country(tmp_path / "country")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'voter.db'}"


@pytest.fixture
def client(database_url: str, keys: Keys, country: Country) -> Iterator[TestClient]:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    with running_app(settings, mock_transports(country)) as (_, test_client):
        yield test_client
