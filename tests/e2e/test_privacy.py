"""No IIN leaves the process except in the body that carried it in (SPEC §8, §12).

Requests carrying IINs (valid, with broken check digits, bare 12-digit runs, the country's
real voters) go through every route and error path: in the body field meant for it, in the
wrong field, as the wrong type, inside free text, in path and query parameters, in headers
(request id, idempotency key, language, the bearer token, a token's subject), in malformed
and oversized bodies, while the upstreams fail with the IIN in their error text. After each
request, nothing the service wrote may hold an IIN-shaped string that came from the input:
its log lines (tracebacks included, at DEBUG), its Prometheus metrics, the audit entries an
auditor can read, and the response itself (problem bodies, headers).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import structlog
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.adapters.pipeline import Transports
from service.api.app import load_contract
from service.domain.caller import Role
from service.domain.iin import complete_iin
from service.domain.iin_text import holds_iin_shaped, iin_shaped_spans
from service.logs import configure_logging, redact_iins
from service.mocks.addresses import create_addresses_app
from service.mocks.registry import create_registry_app
from tests.databases import drop_database, new_database_url, on_postgres
from tests.support import (
    ELECTION_ID,
    NOT_IN_REGISTRY,
    PEOPLE,
    Country,
    Keys,
    MovableClock,
    load_reference,
    make_settings,
    running_app,
    token,
    write_country,
)

# 10:00 in Almaty on voting day: inside the day-registration window, so Service B decides.
INSIDE_WINDOW = dt.datetime(2027, 3, 21, 5, 0, tzinfo=dt.UTC)
KNOWN_IINS = [spec["iin"] for spec in PEOPLE.values()] + [NOT_IN_REGISTRY]
MAX_BODY_BYTES = 16_384
EXAMPLES = int(os.environ.get("VOTER_PRIVACY_EXAMPLES", "150"))


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
    assert not holds_iin_shaped(cleaned["value"])
    assert iin not in cleaned["nested"]["k"]


# --- upstreams that fail the way a real one does, with the IIN in the failure ------------------


class FaultyUpstream(httpx.AsyncBaseTransport):
    """The mock upstream, or, when ``fault`` is set, a failure that names the IIN it was sent."""

    FAULTS = ("connect", "timeout", "server_error", "garbage", "someone_else")

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.fault: str | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.fault is None:
            return await self._inner.handle_async_request(request)
        sent = (await request.aread()).decode("utf-8", "replace")
        if self.fault == "connect":
            raise httpx.ConnectError(f"cannot reach upstream for {sent}", request=request)
        if self.fault == "timeout":
            raise httpx.ReadTimeout(f"no answer about {sent}", request=request)
        if self.fault == "server_error":
            return httpx.Response(500, text=f"Traceback: KeyError {sent}")
        if self.fault == "garbage":
            return httpx.Response(200, text=f"<html>{sent}</html>")
        # A well-formed answer about another person: the adapter must not trust it.
        return httpx.Response(200, json={"iin": KNOWN_IINS[0], "echo": sent})


@dataclass
class Service:
    client: TestClient
    keys: Keys
    registry: FaultyUpstream
    addresses: FaultyUpstream
    audited_up_to: int = 0

    def bearer(self, *roles: Role, subject: str = "clerk@egov") -> str:
        # Service A probes are made at 75-0001, the precinct this member serves.
        return token(self.keys, *roles, subject=subject, now=INSIDE_WINDOW, precincts=("75-0001",))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("privacy")
    database_url = new_database_url(workdir)
    country: Country = write_country(workdir / "country")
    # Limits have their own tests; here they would only turn requests into 429s.
    settings_ = make_settings(database_url, keys, rate_limit_per_minute=1_000_000)
    load_reference(settings_, country)
    registry = FaultyUpstream(create_registry_app(country.population))
    addresses = FaultyUpstream(create_addresses_app(country.registrations))
    configure_logging(json_output=True, level=logging.DEBUG)
    try:
        with running_app(
            settings_,
            Transports(registry=registry, addresses=addresses),
            clock=MovableClock(INSIDE_WINDOW),
        ) as (_, client):
            yield Service(client, keys, registry, addresses)
    finally:
        structlog.reset_defaults()
        configure_logging(json_output=True)
        if on_postgres():
            drop_database(database_url)


# --- where an IIN can be put ------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    operation: str  # "METHOD /template", to check that every operation is covered
    method: str
    path: str
    roles: tuple[Role, ...] = ()
    json_body: Any = None
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


Placement = Callable[[str], Probe]


def _election(iin: str) -> dict[str, Any]:
    return {"iin": iin, "election_id": ELECTION_ID}


def _override(**fields: Any) -> dict[str, Any]:
    return {
        "iin": KNOWN_IINS[0],
        "election_id": ELECTION_ID,
        "kind": "include",
        "reason_code": "COURT_DECISION",
        "reason_text": "capacity restored",
        "document_ref": "court 2-1/2027",
        **fields,
    }


def _presence(**fields: Any) -> dict[str, Any]:
    return {
        "election_id": ELECTION_ID,
        "precinct_id": "75-0001",
        "iins": [KNOWN_IINS[0]],
        "document_ref": "hospital list 17/03",
        **fields,
    }


def _certificate(**fields: Any) -> dict[str, Any]:
    return {
        "election_id": ELECTION_ID,
        "iin": KNOWN_IINS[0],
        "document_ref": "application 12/03",
        **fields,
    }


def _stay(**fields: Any) -> dict[str, Any]:
    return {
        "election_id": ELECTION_ID,
        "iin": KNOWN_IINS[0],
        "stay_address": {"kato": "751110000", "street": "Абай даңғылы", "house": "14"},
        "document_ref": "akimat decision 7",
        **fields,
    }


def _mission(**fields: Any) -> dict[str, Any]:
    return {
        "election_id": ELECTION_ID,
        "iin": KNOWN_IINS[0],
        "precinct_id": "99-0001",
        "document_ref": "mission application 3",
        **fields,
    }


_CHECK = "POST /v1/eligibility/check"
_PRECINCT_CHECK = "POST /v1/precinct-checks"
_REGISTER = "POST /v1/day-registrations"
_OVERRIDES = "POST /v1/overrides"
_PRESENCE = "POST /v1/presence-lists"
_CERTIFICATES = "POST /v1/absentee-certificates"
_STAY = "POST /v1/place-of-stay-applications"
_EGOV, _COMMISSION, _OPERATOR, _AUDITOR = (
    (Role.EGOV,),
    (Role.COMMISSION,),
    (Role.OPERATOR,),
    (Role.AUDITOR,),
)

PLACEMENTS: dict[str, Placement] = {
    # The field meant for it, as sent by a careless front end, and as the wrong type.
    "check.iin": lambda i: Probe(_CHECK, "POST", "/v1/eligibility/check", _EGOV, _election(i)),
    "check.iin_spaced": lambda i: Probe(
        _CHECK, "POST", "/v1/eligibility/check", _EGOV, _election(f"  {i} ")
    ),
    "check.iin_in_text": lambda i: Probe(
        _CHECK, "POST", "/v1/eligibility/check", _EGOV, _election(f"IIN:{i}")
    ),
    "check.iin_as_number": lambda i: Probe(
        _CHECK, "POST", "/v1/eligibility/check", _EGOV, {**_election(i), "iin": int(i)}
    ),
    "check.iin_as_list": lambda i: Probe(
        _CHECK, "POST", "/v1/eligibility/check", _EGOV, {**_election(i), "iin": [i, i]}
    ),
    "check.election_id": lambda i: Probe(
        _CHECK, "POST", "/v1/eligibility/check", _EGOV, {"iin": i, "election_id": i}
    ),
    "check.unknown_field": lambda i: Probe(
        _CHECK, "POST", "/v1/eligibility/check", _EGOV, {**_election(i), i: i}
    ),
    "check.malformed_json": lambda i: Probe(
        _CHECK,
        "POST",
        "/v1/eligibility/check",
        _EGOV,
        content=f'{{"iin": "{i}", "election_id": '.encode(),
        headers={"Content-Type": "application/json"},
    ),
    "check.not_json": lambda i: Probe(
        _CHECK,
        "POST",
        "/v1/eligibility/check",
        _EGOV,
        content=f"iin={i}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    "check.oversized": lambda i: Probe(
        _CHECK,
        "POST",
        "/v1/eligibility/check",
        _EGOV,
        content=json.dumps({"iin": i, "pad": i * (MAX_BODY_BYTES // 12 + 1)}).encode(),
        headers={"Content-Type": "application/json"},
    ),
    "precinct_check.iin": lambda i: Probe(
        _PRECINCT_CHECK,
        "POST",
        "/v1/precinct-checks",
        _COMMISSION,
        {**_election(i), "precinct_id": "75-0001"},
    ),
    "precinct_check.precinct_id": lambda i: Probe(
        _PRECINCT_CHECK,
        "POST",
        "/v1/precinct-checks",
        _COMMISSION,
        {**_election(i), "precinct_id": i},
    ),
    "register.iin": lambda i: Probe(
        _REGISTER,
        "POST",
        "/v1/day-registrations",
        _EGOV,
        {**_election(i), "precinct_id": "75-0002"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    ),
    "register.idempotency_key": lambda i: Probe(
        _REGISTER,
        "POST",
        "/v1/day-registrations",
        _EGOV,
        {**_election(PEOPLE["no_registration"]["iin"]), "precinct_id": "27-0001"},
        headers={"Idempotency-Key": f"key-{i}"},
    ),
    "register.precinct_id": lambda i: Probe(
        _REGISTER,
        "POST",
        "/v1/day-registrations",
        _EGOV,
        {**_election(i), "precinct_id": i},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    ),
    "registration.id": lambda i: Probe(
        "GET /v1/day-registrations/{registration_id}",
        "GET",
        f"/v1/day-registrations/{i}",
        (Role.EGOV, Role.OPERATOR),
    ),
    "registration.cancel": lambda i: Probe(
        "POST /v1/day-registrations/{registration_id}/cancel",
        "POST",
        f"/v1/day-registrations/{i}/cancel",
        _OPERATOR,
        {"reason": f"duplicate of {i}"},
    ),
    "registration.cancel_approve": lambda i: Probe(
        "POST /v1/day-registrations/{registration_id}/cancel/approve",
        "POST",
        f"/v1/day-registrations/{i}/cancel/approve",
        _OPERATOR,
        {"note": i},
    ),
    "registration.cancel_refuse": lambda i: Probe(
        "POST /v1/day-registrations/{registration_id}/cancel/refuse",
        "POST",
        f"/v1/day-registrations/{i}/cancel/refuse",
        _OPERATOR,
        {"reason": f"not {i}"},
    ),
    "presence.iin": lambda i: Probe(
        _PRESENCE, "POST", "/v1/presence-lists", _OPERATOR, _presence(iins=[i, f" {i} "])
    ),
    "presence.document_ref": lambda i: Probe(
        _PRESENCE, "POST", "/v1/presence-lists", _OPERATOR, _presence(document_ref=f"list {i}")
    ),
    "presence.precinct_id": lambda i: Probe(
        _PRESENCE, "POST", "/v1/presence-lists", _OPERATOR, _presence(precinct_id=i)
    ),
    "entry.id": lambda i: Probe(
        "GET /v1/list-entries/{entry_id}", "GET", f"/v1/list-entries/{i}", _OPERATOR
    ),
    "entry.cancel": lambda i: Probe(
        "POST /v1/list-entries/{entry_id}/cancel",
        "POST",
        f"/v1/list-entries/{i}/cancel",
        _OPERATOR,
        {"reason": f"not {i}"},
    ),
    "entry.cancel_approve": lambda i: Probe(
        "POST /v1/list-entries/{entry_id}/cancel/approve",
        "POST",
        f"/v1/list-entries/{i}/cancel/approve",
        _OPERATOR,
        {"undo_request_id": i},
    ),
    "entry.cancel_refuse": lambda i: Probe(
        "POST /v1/list-entries/{entry_id}/cancel/refuse",
        "POST",
        f"/v1/list-entries/{i}/cancel/refuse",
        _OPERATOR,
        {"reason": f"not {i}"},
    ),
    "mission.iin": lambda i: Probe(
        "POST /v1/mission-applications",
        "POST",
        "/v1/mission-applications",
        _OPERATOR,
        _mission(iin=i),
    ),
    "mission.document_ref": lambda i: Probe(
        "POST /v1/mission-applications",
        "POST",
        "/v1/mission-applications",
        _OPERATOR,
        _mission(document_ref=f"n {i}"),
    ),
    "stay.iin": lambda i: Probe(
        _STAY, "POST", "/v1/place-of-stay-applications", _OPERATOR, _stay(iin=i)
    ),
    "stay.document_ref": lambda i: Probe(
        _STAY, "POST", "/v1/place-of-stay-applications", _OPERATOR, _stay(document_ref=f"n {i}")
    ),
    "stay.street": lambda i: Probe(
        _STAY,
        "POST",
        "/v1/place-of-stay-applications",
        _OPERATOR,
        _stay(stay_address={"kato": "751110000", "street": f"street {i}", "house": "1"}),
    ),
    "certificate.iin": lambda i: Probe(
        _CERTIFICATES, "POST", "/v1/absentee-certificates", _OPERATOR, _certificate(iin=i)
    ),
    "certificate.document_ref": lambda i: Probe(
        _CERTIFICATES,
        "POST",
        "/v1/absentee-certificates",
        _OPERATOR,
        _certificate(document_ref=f"application {i}"),
    ),
    "certificate.id": lambda i: Probe(
        "GET /v1/absentee-certificates/{certificate_id}",
        "GET",
        f"/v1/absentee-certificates/{i}",
        _OPERATOR,
    ),
    "certificate.cancel": lambda i: Probe(
        "POST /v1/absentee-certificates/{certificate_id}/cancel",
        "POST",
        f"/v1/absentee-certificates/{i}/cancel",
        _OPERATOR,
        {"reason": f"not {i}"},
    ),
    "certificate.cancel_approve": lambda i: Probe(
        "POST /v1/absentee-certificates/{certificate_id}/cancel/approve",
        "POST",
        f"/v1/absentee-certificates/{i}/cancel/approve",
        _OPERATOR,
        {"undo_request_id": i},
    ),
    "certificate.cancel_refuse": lambda i: Probe(
        "POST /v1/absentee-certificates/{certificate_id}/cancel/refuse",
        "POST",
        f"/v1/absentee-certificates/{i}/cancel/refuse",
        _OPERATOR,
        {"reason": f"not {i}"},
    ),
    "override.iin": lambda i: Probe(
        _OVERRIDES, "POST", "/v1/overrides", _OPERATOR, _override(iin=i)
    ),
    "override.reason_text": lambda i: Probe(
        _OVERRIDES, "POST", "/v1/overrides", _OPERATOR, _override(reason_text=f"voter {i} restored")
    ),
    "override.document_ref": lambda i: Probe(
        _OVERRIDES, "POST", "/v1/overrides", _OPERATOR, _override(document_ref=f"case/{i}")
    ),
    "override.precinct_id": lambda i: Probe(
        _OVERRIDES, "POST", "/v1/overrides", _OPERATOR, _override(kind="assign", precinct_id=i)
    ),
    "override.expires_on": lambda i: Probe(
        _OVERRIDES, "POST", "/v1/overrides", _OPERATOR, _override(expires_on=i)
    ),
    "override.list": lambda i: Probe(
        "GET /v1/overrides", "GET", "/v1/overrides", _OPERATOR, params={"election_id": i}
    ),
    "override.list_filters": lambda i: Probe(
        "GET /v1/overrides",
        "GET",
        "/v1/overrides",
        _OPERATOR,
        params={"precinct_id": i, "cursor": i, "created_after": i},
    ),
    "override.search": lambda i: Probe(
        "POST /v1/search/overrides", "POST", "/v1/search/overrides", _OPERATOR, {"iin": i}
    ),
    "override.search_filters": lambda i: Probe(
        "POST /v1/search/overrides",
        "POST",
        "/v1/search/overrides",
        _OPERATOR,
        {"iin": KNOWN_IINS[0], "election_id": i, "precinct_id": i, "cursor": i},
    ),
    "access_log.iin": lambda i: Probe(
        "POST /v1/me/access-log", "POST", "/v1/me/access-log", _EGOV, {"iin": i}
    ),
    "access_log.paging": lambda i: Probe(
        "POST /v1/me/access-log",
        "POST",
        "/v1/me/access-log",
        _EGOV,
        {"iin": KNOWN_IINS[0], "before": i, "limit": i},
    ),
    "registration.list": lambda i: Probe(
        "GET /v1/day-registrations",
        "GET",
        "/v1/day-registrations",
        _OPERATOR,
        params={"election_id": i, "precinct_id": i, "status": i},
    ),
    "registration.search": lambda i: Probe(
        "POST /v1/search/day-registrations",
        "POST",
        "/v1/search/day-registrations",
        _OPERATOR,
        {"iin": i, "election_id": ELECTION_ID},
    ),
    "registration.search_filters": lambda i: Probe(
        "POST /v1/search/day-registrations",
        "POST",
        "/v1/search/day-registrations",
        _OPERATOR,
        {"iin": PEOPLE["no_registration"]["iin"], "election_id": i, "registered_before": i},
    ),
    "entries.list": lambda i: Probe(
        "GET /v1/list-entries",
        "GET",
        "/v1/list-entries",
        _OPERATOR,
        params={"election_id": i, "precinct_id": i, "kind": i, "status": i, "cursor": i},
    ),
    "entries.search": lambda i: Probe(
        "POST /v1/search/list-entries",
        "POST",
        "/v1/search/list-entries",
        _OPERATOR,
        {"iin": i, "election_id": ELECTION_ID},
    ),
    "entries.search_filters": lambda i: Probe(
        "POST /v1/search/list-entries",
        "POST",
        "/v1/search/list-entries",
        _OPERATOR,
        {"iin": PEOPLE["no_registration"]["iin"], "election_id": i, "created_before": i},
    ),
    "account_holds.list": lambda i: Probe(
        "GET /v1/account-holds", "GET", f"/v1/account-holds?role={i}", _OPERATOR
    ),
    "account_holds.lift": lambda i: Probe(
        "POST /v1/account-holds/{hold_id}/lift",
        "POST",
        f"/v1/account-holds/{i}/lift",
        _OPERATOR,
        {"reason": i},
    ),
    "override.get": lambda i: Probe(
        "GET /v1/overrides/{override_id}", "GET", f"/v1/overrides/{i}", _OPERATOR
    ),
    "override.approve": lambda i: Probe(
        "POST /v1/overrides/{override_id}/approve",
        "POST",
        f"/v1/overrides/{i}/approve",
        _OPERATOR,
        {"note": i},
    ),
    "override.refuse": lambda i: Probe(
        "POST /v1/overrides/{override_id}/refuse",
        "POST",
        f"/v1/overrides/{i}/refuse",
        _OPERATOR,
        {"reason": f"not {i}"},
    ),
    "override.revoke": lambda i: Probe(
        "POST /v1/overrides/{override_id}/revoke",
        "POST",
        f"/v1/overrides/{i}/revoke",
        _OPERATOR,
        {"reason": i},
    ),
    "override.revoke_approve": lambda i: Probe(
        "POST /v1/overrides/{override_id}/revoke/approve",
        "POST",
        f"/v1/overrides/{i}/revoke/approve",
        _OPERATOR,
        {"note": i},
    ),
    "override.revoke_refuse": lambda i: Probe(
        "POST /v1/overrides/{override_id}/revoke/refuse",
        "POST",
        f"/v1/overrides/{i}/revoke/refuse",
        _OPERATOR,
        {"reason": f"not {i}"},
    ),
    "precincts.query": lambda i: Probe(
        "GET /v1/precincts",
        "GET",
        "/v1/precincts",
        _EGOV,
        params={"kato": i, "country": i, "limit": i},
    ),
    "precincts.unknown_parameter": lambda i: Probe(
        "GET /v1/precincts", "GET", "/v1/precincts", _EGOV, params={i: i}
    ),
    "precinct.id": lambda i: Probe(
        "GET /v1/precincts/{precinct_id}", "GET", f"/v1/precincts/{i}", _EGOV
    ),
    "elections": lambda i: Probe(
        "GET /v1/elections", "GET", "/v1/elections", _EGOV, params={"iin": i}
    ),
    "election.id": lambda i: Probe(
        "GET /v1/elections/{election_id}", "GET", f"/v1/elections/{i}", _EGOV
    ),
    "audit.entries": lambda i: Probe(
        "GET /v1/audit/entries",
        "GET",
        "/v1/audit/entries",
        _AUDITOR,
        params={"after_seq": f"x{i}", "limit": i},
    ),
    "audit.cosignature": lambda i: Probe(
        "POST /v1/audit/cosignatures",
        "POST",
        "/v1/audit/cosignatures",
        (Role.WITNESS,),
        {"note": f"voters.example/audit/v1\n{i}\nAAAA\n\n— w {i}\n"},
    ),
    "audit.checkpoint_witnessed": lambda i: Probe(
        "GET /v1/audit/checkpoint",
        "GET",
        "/v1/audit/checkpoint",
        (Role.WITNESS,),
        params={"witnessed": i},
    ),
    "audit.checkpoint": lambda i: Probe(
        "GET /v1/audit/checkpoint", "GET", "/v1/audit/checkpoint", _AUDITOR, params={"iin": i}
    ),
    "statistics": lambda i: Probe(
        "GET /v1/elections/{election_id}/statistics",
        "GET",
        f"/v1/elections/{i}/statistics",
        params={"iin": i},
    ),
    "statistics.csv": lambda i: Probe(
        "GET /v1/elections/{election_id}/statistics.csv",
        "GET",
        f"/v1/elections/{i}/statistics.csv",
    ),
    "audit.inclusion": lambda i: Probe(
        "GET /v1/audit/proofs/inclusion",
        "GET",
        "/v1/audit/proofs/inclusion",
        _AUDITOR,
        params={"seq": f"x{i}", "tree_size": i},
    ),
    "audit.consistency": lambda i: Probe(
        "GET /v1/audit/proofs/consistency",
        "GET",
        "/v1/audit/proofs/consistency",
        _AUDITOR,
        params={"first": i, "second": f"{i}x"},
    ),
    "healthz": lambda i: Probe("GET /healthz", "GET", "/healthz", params={"iin": i}),
    "readyz": lambda i: Probe("GET /readyz", "GET", "/readyz", params={"iin": i}),
    "metrics": lambda i: Probe("GET /metrics", "GET", "/metrics", params={"iin": i}),
    "unknown_route": lambda i: Probe("unmatched", "GET", f"/v1/voters/{i}", _EGOV),
    "wrong_method": lambda i: Probe("unmatched", "DELETE", f"/v1/precincts/{i}", _EGOV),
}

# How the caller presents itself.
AUTHS = ("proper", "every_role", "subject_is_iin", "bearer_is_iin", "header_is_iin", "none")
FAULTS = (None, *FaultyUpstream.FAULTS)
# Mostly healthy upstreams, so that decisions are taken and audited; enough faults to trip the
# circuit breaker now and then, whose refusals are one more error path.
MOSTLY_HEALTHY = (None,) * 3 * len(FaultyUpstream.FAULTS) + FaultyUpstream.FAULTS


def _headers(
    service: Service, probe: Probe, iin: str, *, auth: str, extra: set[str]
) -> dict[str, str]:
    headers = dict(probe.headers)
    if auth == "proper" and probe.roles:
        headers["Authorization"] = f"Bearer {service.bearer(*probe.roles)}"
    elif auth == "every_role":
        headers["Authorization"] = f"Bearer {service.bearer(*Role)}"
    elif auth == "subject_is_iin":
        headers["Authorization"] = (
            f"Bearer {service.bearer(*(probe.roles or tuple(Role)), subject=iin)}"
        )
    elif auth == "bearer_is_iin":
        headers["Authorization"] = f"Bearer {iin}"
    elif auth == "header_is_iin":
        headers["Authorization"] = iin
    if "request_id" in extra:
        headers["X-Request-ID"] = iin
    if "language" in extra:
        headers["Accept-Language"] = f"{iin}, kk;q=0.5"
    return headers


def _needles(iin: str, probe: Probe, headers: dict[str, str]) -> set[str]:
    """Every IIN-shaped string the request carried (the drawn IIN in whatever form it took)."""
    sent = [iin, probe.path, json.dumps(probe.json_body), *headers.values()]
    sent += [*probe.params, *probe.params.values()]
    if probe.content is not None:
        sent.append(probe.content.decode("utf-8", "replace"))
    found = {text[start:end] for text in sent for start, end in iin_shaped_spans(text)}
    return found | {iin}


def _bounded(needle: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![0-9]){re.escape(needle)}(?![0-9])")


def _new_audit_bodies(service: Service) -> str:
    bodies: list[str] = []
    auditor = {"Authorization": f"Bearer {service.bearer(Role.AUDITOR, subject='auditor@cec')}"}
    while True:
        page = service.client.get(
            "/v1/audit/entries",
            params={"after_seq": service.audited_up_to, "limit": 1000},
            headers=auditor,
        )
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        bodies += [item["body"] for item in items]
        if not items:
            return "\n".join(bodies)
        service.audited_up_to = items[-1]["seq"]


def _send_and_inspect(
    service: Service, iin: str, placement: str, *, auth: str, fault: str | None, extra: set[str]
) -> None:
    probe = PLACEMENTS[placement](iin)
    headers = _headers(service, probe, iin, auth=auth, extra=extra)
    service.registry.fault = service.addresses.fault = fault
    written = io.StringIO()
    try:
        with contextlib.redirect_stderr(written), contextlib.redirect_stdout(written):
            response = service.client.request(
                probe.method,
                probe.path,
                json=probe.json_body,
                content=probe.content,
                params=probe.params,
                headers=headers,
            )
    finally:
        service.registry.fault = service.addresses.fault = None
    logged = written.getvalue()
    metrics = service.client.get("/metrics").text
    audited = _new_audit_bodies(service)
    answered = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())

    # A server error would be a bug of its own; a failing upstream is a 503 with a stable code.
    if response.status_code >= 500:
        assert response.json()["code"] in {"UNDETERMINED", "SERVICE_UNAVAILABLE"}, response.text
    assert "http.request" in logged  # the capture really saw the service's lines
    assert not holds_iin_shaped(logged), "an IIN-shaped run in the logs"
    assert "Logging error" not in logged
    for needle in _needles(iin, probe, headers):
        pattern = _bounded(needle)
        assert not pattern.search(metrics), "an IIN in the metrics"
        assert not pattern.search(audited), f"an IIN in an audit entry: {audited}"
        assert not pattern.search(answered), f"an IIN echoed in the answer: {answered}"


# --- IINs -------------------------------------------------------------------------------------

_prefixes = st.text(alphabet="0123456789", min_size=11, max_size=11)
valid_iins = _prefixes.map(complete_iin).filter(lambda iin: iin is not None)
broken_checksums = valid_iins.map(lambda iin: iin[:11] + str((int(iin[11]) + 1) % 10))
iins = st.one_of(
    st.sampled_from(KNOWN_IINS),
    valid_iins,
    broken_checksums,
    st.text(alphabet="0123456789", min_size=12, max_size=12),
)


def _every_operation() -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in load_contract()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_the_placements_reach_every_operation_of_the_contract() -> None:
    reached = {placement(KNOWN_IINS[0]).operation for placement in PLACEMENTS.values()}
    assert _every_operation() <= reached


def test_every_placement_with_every_fault_leaks_no_iin(service: Service) -> None:
    # Deterministic sweep: each placement once per upstream fault, with a real voter's IIN.
    voter = PEOPLE["no_registration"]["iin"]
    for placement in PLACEMENTS:
        for fault in FAULTS:
            _send_and_inspect(
                service, voter, placement, auth="proper", fault=fault, extra={"request_id"}
            )
    for auth in AUTHS:
        _send_and_inspect(service, voter, "check.iin", auth=auth, fault=None, extra={"language"})


@given(
    iin=iins,
    placement=st.sampled_from(sorted(PLACEMENTS)),
    auth=st.sampled_from(AUTHS),
    fault=st.sampled_from(MOSTLY_HEALTHY),
    extra=st.sets(st.sampled_from(["request_id", "language"])),
)
@example(
    iin=PEOPLE["eligible_permanent"]["iin"],
    placement="check.iin",
    auth="proper",
    fault=None,
    extra={"request_id"},
)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_no_iin_from_any_request_reaches_logs_metrics_audit_or_errors(
    service: Service, iin: str, placement: str, auth: str, fault: str | None, extra: set[str]
) -> None:
    _send_and_inspect(service, iin, placement, auth=auth, fault=fault, extra=extra)


def test_the_inspection_sees_what_it_inspects(service: Service) -> None:
    # Guards the checks themselves: each source really holds what a leak would be written into.
    written = io.StringIO()
    # An override needs no upstream, which earlier faults may have tripped the breaker of.
    with contextlib.redirect_stderr(written):
        response = service.client.post(
            "/v1/overrides",
            json=_override(),
            headers={
                "Authorization": f"Bearer {service.bearer(Role.OPERATOR)}",
                "X-Request-ID": "privacy-probe-1",
            },
        )
    assert response.status_code == 201
    assert any(
        json.loads(line).get("request_id") == "privacy-probe-1"
        for line in written.getvalue().splitlines()
        if line.startswith("{")
    )
    assert '"request_id":"privacy-probe-1"' in _new_audit_bodies(service)
    assert 'route="/v1/overrides"' in service.client.get("/metrics").text
    assert _bounded(KNOWN_IINS[0]).search(f"request_id={KNOWN_IINS[0]}")
    assert not _bounded(KNOWN_IINS[0]).search(f"{KNOWN_IINS[0]}0")


# --- what the property found, as named cases --------------------------------------------------


def test_a_request_id_holding_an_iin_is_replaced_not_echoed(client: TestClient, keys: Keys) -> None:
    voter = KNOWN_IINS[0]
    response = client.post(
        "/v1/eligibility/check",
        json=_election(voter),
        headers={"Authorization": f"Bearer {token(keys, Role.EGOV)}", "X-Request-ID": voter},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] != voter
    assert not holds_iin_shaped(response.headers["x-request-id"])
    kept = client.get("/v1/elections", headers={"X-Request-ID": "front-end-0001"})
    assert kept.headers["x-request-id"] == "front-end-0001"


@pytest.mark.parametrize(
    ("path", "body", "field_name"),
    [
        ("/v1/overrides", _override(reason_text="restored: 900101300126"), "reason_text"),
        ("/v1/overrides", _override(document_ref="case/900101300126"), "document_ref"),
        (f"/v1/overrides/{uuid.UUID(int=1)}/refuse", {"reason": "900101300126"}, "reason"),
        (
            f"/v1/day-registrations/{uuid.UUID(int=1)}/cancel",
            {"reason": "x 900101300126"},
            "reason",
        ),
    ],
)
def test_free_text_holding_an_iin_is_refused(
    client: TestClient, keys: Keys, path: str, body: dict[str, Any], field_name: str
) -> None:
    response = client.post(
        path, json=body, headers={"Authorization": f"Bearer {token(keys, Role.OPERATOR)}"}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "VALIDATION_FAILED"
    assert [e["type"] for e in problem["errors"]] == ["contains_iin"]
    assert problem["errors"][0]["field"].endswith(field_name)
    assert "900101300126" not in response.text


def test_free_text_with_other_numbers_is_kept(client: TestClient, keys: Keys) -> None:
    body = _override(reason_text="decision 2-1/2027 of 21.03.2027", document_ref="12345678901")
    response = client.post(
        "/v1/overrides",
        json=body,
        headers={"Authorization": f"Bearer {token(keys, Role.OPERATOR)}"},
    )
    assert response.status_code == 201
    assert response.json()["document_ref"] == "12345678901"


# The finding of issue 12: an IIN written the usual grouped way, or spaced, dashed, full-width
# or with a zero-width space, passed the free-text check and was kept in the audit log.
IIN_WRITTEN_BY_PEOPLE = {
    "grouped": "ИИН 7802 0340 0000",
    "dashed": "780203-400000",
    "full-width": "ИИН ７８０２０３４０００００",
    "zero-width space": "7\u200b80203400000",
    "no-break spaces and en dash": "7802\u00a00340\u20130000",
    "Arabic-Indic digits": "٧٨٠٢٠٣٤٠٠٠٠٠",
    "one digit more": "ИИН 7802 0340 0000 1",
}


def _audit_bodies(client: TestClient, keys: Keys) -> list[str]:
    auditor = {"Authorization": f"Bearer {token(keys, Role.AUDITOR)}"}
    page = client.get("/v1/audit/entries", params={"limit": 1000}, headers=auditor)
    assert page.status_code == 200, page.text
    return [item["body"] for item in page.json()["items"]]


@pytest.mark.parametrize(
    "document_ref", IIN_WRITTEN_BY_PEOPLE.values(), ids=list(IIN_WRITTEN_BY_PEOPLE)
)
def test_an_override_whose_document_ref_holds_an_iin_written_any_way_is_refused_unaudited(
    client: TestClient, keys: Keys, document_ref: str
) -> None:
    operator = {"Authorization": f"Bearer {token(keys, Role.OPERATOR)}"}
    audited_before = _audit_bodies(client, keys)
    response = client.post(
        "/v1/overrides", json=_override(document_ref=document_ref), headers=operator
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "VALIDATION_FAILED"
    assert [e["type"] for e in problem["errors"]] == ["contains_iin"]
    assert problem["errors"][0]["field"].endswith("document_ref")
    assert document_ref not in response.text
    assert _audit_bodies(client, keys) == audited_before
    assert client.get("/v1/overrides", headers=operator).json()["items"] == []


def test_free_text_holding_an_iin_written_any_way_is_refused_in_every_free_text_field(
    client: TestClient, keys: Keys
) -> None:
    operator = {"Authorization": f"Bearer {token(keys, Role.OPERATOR)}"}
    some_id = uuid.UUID(int=1)
    audited_before = _audit_bodies(client, keys)
    for written in IIN_WRITTEN_BY_PEOPLE.values():
        for path, body, field_name in [
            ("/v1/overrides", _override(reason_text=f"restored, {written}"), "reason_text"),
            (f"/v1/overrides/{some_id}/refuse", {"reason": written}, "reason"),
            (f"/v1/overrides/{some_id}/revoke", {"reason": written}, "reason"),
            (f"/v1/day-registrations/{some_id}/cancel", {"reason": written}, "reason"),
            (f"/v1/list-entries/{some_id}/cancel", {"reason": written}, "reason"),
            ("/v1/presence-lists", _presence(document_ref=written), "document_ref"),
            (f"/v1/absentee-certificates/{some_id}/cancel", {"reason": written}, "reason"),
            ("/v1/absentee-certificates", _certificate(document_ref=written), "document_ref"),
            ("/v1/place-of-stay-applications", _stay(document_ref=written), "document_ref"),
            ("/v1/mission-applications", _mission(document_ref=written), "document_ref"),
            (
                "/v1/place-of-stay-applications",
                _stay(stay_address={"kato": "751110000", "street": written, "house": "1"}),
                "street",
            ),
        ]:
            response = client.post(path, json=body, headers=operator)
            assert response.status_code == 422, (path, written, response.text)
            errors = response.json()["errors"]
            assert [(e["field"].rsplit(".", 1)[-1], e["type"]) for e in errors] == [
                (field_name, "contains_iin")
            ]
    assert _audit_bodies(client, keys) == audited_before


def test_a_document_ref_citing_a_case_and_its_date_is_kept_and_audited(
    client: TestClient, keys: Keys
) -> None:
    # The other side of the rule, and proof that the audit inspection above sees entries.
    reference = "№ 6294-23-00-2/1501 от 15.01.2026, тел. +7 701 234 56 78"
    response = client.post(
        "/v1/overrides",
        json=_override(document_ref=reference),
        headers={"Authorization": f"Bearer {token(keys, Role.OPERATOR)}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["document_ref"] == reference
    audited = [
        json.dumps(json.loads(body), ensure_ascii=False) for body in _audit_bodies(client, keys)
    ]
    assert any(reference in entry for entry in audited)


def test_a_token_whose_subject_is_an_iin_is_refused(client: TestClient, keys: Keys) -> None:
    written = io.StringIO()
    with contextlib.redirect_stderr(written):
        response = client.post(
            "/v1/eligibility/check",
            json=_election(KNOWN_IINS[0]),
            headers={"Authorization": f"Bearer {token(keys, Role.EGOV, subject=KNOWN_IINS[1])}"},
        )
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED")
    events = [json.loads(line) for line in written.getvalue().splitlines() if line.startswith("{")]
    rejected = [e for e in events if e.get("event") == "security.token.rejected"]
    assert [e["reason"] for e in rejected] == ["subject_holds_iin"]
