"""No IIN appears in any log line the service writes (SPEC §12)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from service.api.app import Transports
from service.logs import IIN_SHAPED, configure_logging, redact_iins
from service.mocks.addresses import create_addresses_app
from service.security.tokens import Role
from tests.support import (
    ELECTION_ID,
    NOT_IN_REGISTRY,
    PEOPLE,
    Country,
    Keys,
    load_reference,
    make_settings,
    running_app,
    token,
)


@given(
    st.text(),
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.text(),
)
def test_redaction_removes_any_iin_shaped_run_from_any_text(
    before: str, iin: str, after: str
) -> None:
    event = {"event": "x", "value": before + " " + iin + " " + after, "nested": {"k": [iin]}}
    cleaned = redact_iins(None, "info", event)
    assert not IIN_SHAPED.search(json.dumps(cleaned, ensure_ascii=False))
    assert iin not in cleaned["nested"]["k"]


def _exceptional(request: httpx.Request) -> httpx.Response:
    # An upstream library error whose text carries the IIN: it must still never be logged.
    iin = json.loads(request.content)["iin"]
    raise httpx.ConnectError(f"cannot reach registry for {iin}")


@pytest.fixture
def json_logs(capfd: pytest.CaptureFixture[str]) -> pytest.CaptureFixture[str]:
    configure_logging(json_output=True, level=logging.DEBUG)
    yield capfd
    structlog.reset_defaults()
    configure_logging(json_output=True)


def test_no_iin_reaches_the_logs_on_any_route_or_error_path(
    database_url: str, keys: Keys, country: Country, json_logs: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    transports = Transports(
        registry=httpx.MockTransport(_exceptional),
        addresses=httpx.ASGITransport(app=create_addresses_app(country.registrations)),
    )
    iins = [spec["iin"] for spec in PEOPLE.values()] + [NOT_IN_REGISTRY]
    egov = {"Authorization": f"Bearer {token(keys, Role.EGOV)}"}
    with running_app(settings, transports) as (_, client):
        for iin in iins:
            body = {"iin": iin, "election_id": ELECTION_ID}
            client.post("/v1/eligibility/check", json=body, headers=egov)  # upstream fault
            client.post("/v1/eligibility/check", json=body)  # no token
            client.post("/v1/eligibility/check", json={**body, iin: iin}, headers=egov)
            client.post("/v1/eligibility/check", json={"iin": iin[:-1] + "x"}, headers=egov)
            client.post("/v1/eligibility/check", json={"iin": f" {iin}0"}, headers=egov)
            client.get(f"/v1/precincts/{iin}", headers=egov)
            client.get("/v1/precincts", params={iin: iin}, headers=egov)
            client.get(f"/v1/elections/{iin}", headers=egov)
            client.get(f"/no/such/route/{iin}", headers=egov)
            client.post(
                "/v1/eligibility/check",
                content=f'{{"iin": "{iin}"'.encode(),
                headers={**egov, "Content-Type": "application/json", "X-Request-ID": iin},
            )
            client.post("/v1/eligibility/check", json=body, headers={"Authorization": iin})
    out, err = json_logs.readouterr()
    logged = out + err
    assert "http.request" in logged  # the capture really saw the service's lines
    assert "security.token.rejected" in logged
    for iin in iins:
        assert iin not in logged
    assert not IIN_SHAPED.search(logged)
    assert "Logging error" not in logged
