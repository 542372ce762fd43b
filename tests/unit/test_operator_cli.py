"""voterctl's operator commands as an operator sees them, against a fake API over MockTransport.

Every request is recorded, so tests assert on what actually went over the wire: method, path,
headers and JSON body, and that no IIN ever lands in a URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from service.messages import DEFAULT_LANGUAGE
from service.operator import commands, register
from service.operator.client import ApiClient

IIN = "880101300123"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJvcGVyYXRvci0xIn0.c2lnbmF0dXJl"
ELECTION = "2027-president"
OVERRIDE_ID = "0b6f3c1e-8f1a-4c55-9d2e-3b7f4a0c9e11"
REGISTRATION_ID = "5a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
AUDIT = {"seq": 42, "entry_hash": "ab" * 32}
PRECINCT = {"id": "75-0123", "number": 123, "name": "School No. 5", "address": "Abay ave 10"}

DECISION = {
    "decision_id": "d3c1a9e0-0000-4000-8000-000000000001",
    "election_id": ELECTION,
    "outcome": "eligible",
    "reasons": [],
    "precinct": PRECINCT,
    "basis": "override",
    "override_id": OVERRIDE_ID,
    "next_steps": [],
    "ruleset": "kz-2025.1",
    "registry_data_as_of": "2027-03-01T06:00:00Z",
    "decided_at": "2027-03-01T09:15:00Z",
    "audit": AUDIT,
}
PRECINCT_CHECK = {
    "check_id": "c4e5f6a7-0000-4000-8000-000000000002",
    "election_id": ELECTION,
    "precinct_id": "75-0001",
    "included": False,
    "outcome": "eligible",
    "reasons": [{"code": "OTHER_PRECINCT", "message": "The voter belongs to another precinct"}],
    "belongs_to": PRECINCT,
    "basis": "permanent_registration",
    "decided_at": "2027-03-01T09:16:00Z",
    "audit": AUDIT,
}
OVERRIDE = {
    "id": OVERRIDE_ID,
    "election_id": ELECTION,
    "subject": "v1:9f8e7d6c5b4a",
    "kind": "assign",
    "precinct_id": "75-0123",
    "reason_code": "ADDRESS_NOT_COVERED",
    "reason_text": "New building not yet in the boundaries",
    "document_ref": "TEC-2027-17",
    "expires_on": "2027-03-02",
    "status": "pending",
    "created_by": "operator-1",
    "created_at": "2027-02-20T10:00:00Z",
    "actions": [{"action": "create", "by": "operator-1", "at": "2027-02-20T10:00:00Z"}],
    "audit": AUDIT,
}
APPROVED = {
    **OVERRIDE,
    "status": "active",
    "actions": [
        *OVERRIDE["actions"],
        {"action": "approve", "by": "operator-2", "at": "2027-02-20T11:00:00Z", "reason": None},
    ],
}
REFUSED = {**OVERRIDE, "status": "refused"}
UNDO_REQUEST = {
    "id": "undo-request-1",
    "status": "pending",
    "requested_by": "operator-1",
    "requested_at": "2027-03-01T09:00:00Z",
    "reason": "decision overturned",
    "decided_by": None,
    "decided_at": None,
    "decision_reason": None,
}
REVOCATION_REQUESTED = {**APPROVED, "revocation_requests": [UNDO_REQUEST]}
REVOKED = {
    **APPROVED,
    "status": "revoked",
    "revocation_requests": [
        {
            **UNDO_REQUEST,
            "status": "approved",
            "decided_by": "operator-3",
            "decided_at": "2027-03-01T10:00:00Z",
        }
    ],
}
REVOCATION_REFUSED = {
    **APPROVED,
    "revocation_requests": [
        {
            **UNDO_REQUEST,
            "status": "refused",
            "decided_by": "operator-3",
            "decided_at": "2027-03-01T10:00:00Z",
            "decision_reason": "appeal pending",
        }
    ],
}
NEXT_PAGE = "MjAyNy0wMi0yMFQxMDowMDowMCswMDowMHxzZWNvbmQ"
OVERRIDE_LIST = {
    "items": [OVERRIDE, {**REVOCATION_REQUESTED, "id": "second-override"}],
    "next": NEXT_PAGE,
}
ELECTION_BODY = {
    "id": ELECTION,
    "kind": "presidential",
    "voting_day": "2027-03-21",
    "called_on": "2027-01-20",
    "territory": [],
    "day_registration": {"opens": "07:00", "closes": "20:00"},
    "calendar": {
        "applications": {"opens": "2027-01-20T00:00", "closes": "2027-02-20T00:00"},
        "lists_frozen_on": "2027-03-01",
        "absentee_certificates": {"opens": "2027-03-06T00:00", "closes": "2027-03-20T18:00"},
        "day_registration": {"opens": "2027-03-21T07:00", "closes": "2027-03-21T20:00"},
        "presence_lists": {"opens": "2027-01-20T00:00", "closes": "2027-03-20T18:00"},
        "mission_applications": {"opens": "2027-01-20T00:00", "closes": "2027-03-20T18:00"},
    },
    "ruleset": "kz-2025.1",
}
PRECINCT_BODY = {
    **PRECINCT,
    "kato": "751110000",
    "kind": "ordinary",
    "country": "KAZ",
    "city": None,
    "timezone": "Asia/Almaty",
    "day_registration": True,
    "segments": [{"street": "Абай даңғылы", "from": 1, "to": 99, "parity": "odd"}],
    "buildings": ["0203000123450001"],
}
REGISTRATION = {
    "id": REGISTRATION_ID,
    "election_id": ELECTION,
    "precinct": PRECINCT,
    "status": "active",
    "registered_by": "egov-centre-4",
    "registered_at": "2027-03-01T08:30:00+05:00",
    "lapses_at": "2027-03-02T00:00:00+05:00",
    "cancelled_at": None,
    "cancelled_by": None,
    "cancel_reason": None,
    "cancellation_requests": [],
    "audit": AUDIT,
}
CANCELLATION_REQUESTED = {
    **REGISTRATION,
    "cancellation_requests": [{**UNDO_REQUEST, "reason": "registered at the wrong station"}],
}
CANCELLED = {
    **REGISTRATION,
    "status": "cancelled",
    "cancelled_at": "2027-03-01T12:00:00+05:00",
    "cancelled_by": "operator-3",
    "cancel_reason": "registered at the wrong station",
    "cancellation_requests": [
        {
            **UNDO_REQUEST,
            "reason": "registered at the wrong station",
            "status": "approved",
            "decided_by": "operator-3",
            "decided_at": "2027-03-01T12:00:00+05:00",
        }
    ],
}
CANCELLATION_REFUSED = {
    **REGISTRATION,
    "cancellation_requests": [
        {
            **UNDO_REQUEST,
            "status": "refused",
            "decided_by": "operator-3",
            "decided_at": "2027-03-01T12:00:00+05:00",
            "decision_reason": "the station was right",
        }
    ],
}


@dataclass
class FakeApi:
    """One canned answer (or transport error) for whatever the command sends."""

    status: int = 200
    body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: Exception | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def answer(self, status: int, body: Any, **headers: str) -> None:
        self.status, self.body = status, body
        self.headers = {"Content-Type": "application/problem+json", **headers}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        if self.content is not None:
            return httpx.Response(self.status, content=self.content, headers=self.headers)
        return httpx.Response(
            self.status, content=json.dumps(self.body).encode(), headers=self.headers
        )

    @property
    def only_request(self) -> httpx.Request:
        assert len(self.requests) == 1
        return self.requests[0]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()

    def make_client(base_url: str, token: str, *, language: str) -> ApiClient:
        transport = httpx.MockTransport(fake.handle)
        return ApiClient(base_url, token, language=language, transport=transport)

    monkeypatch.setattr(commands, "make_client", make_client)
    return fake


def app() -> typer.Typer:
    cli = typer.Typer()
    register(cli)
    return cli


# The caller's own environment must not decide a test's outcome.
CLEAN_ENV: dict[str, str | None] = {
    "VOTER_TOKEN": None,
    "VOTER_TOKEN_FILE": None,
    "VOTER_SERVER_URL": None,
}


def run(args: list[str], **env: str) -> Result:
    return CliRunner().invoke(app(), args, env={**CLEAN_ENV, **env})


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


@dataclass(frozen=True)
class Case:
    name: str
    args: list[str]
    method: str
    path: str
    sent: dict[str, Any] | None
    answer: dict[str, Any]
    shown: list[str]
    query: dict[str, str] = field(default_factory=dict)


ENTRY_ID = "7b2e3d4c-5f60-4b7c-9d8e-0f1a2b3c4d5e"
ENTRY = {
    "id": ENTRY_ID,
    "election_id": ELECTION,
    "kind": "special_presence",
    "precinct": {**PRECINCT, "id": "75-0900", "name": "City Hospital No. 4"},
    "document_ref": "letter 17/03",
    "status": "active",
    "created_by": "operator-1",
    "created_at": "2027-03-10T12:00:00+05:00",
    "cancelled_at": None,
    "cancelled_by": None,
    "cancel_reason": None,
    "cancellation_requests": [],
    "audit": {"seq": 81, "entry_hash": "cd" * 32},
}
ENTRY_CANCELLED = {
    **ENTRY,
    "status": "cancelled",
    "cancelled_at": "2027-03-11T12:00:00+05:00",
    "cancelled_by": "operator-2",
    "cancel_reason": "discharged",
}
HOLD_ID = "6a1d2f30-1c44-4b8e-9a0e-5f2b8c7d9e01"
HOLD = {
    "id": HOLD_ID,
    "account": "walker@pec",
    "role": "commission",
    "placed_at": "2027-03-20T09:00:00Z",
    "distinct_voters": 101,
    "threshold": 100,
    "status": "held",
    "lifted_by": None,
    "lifted_at": None,
    "lift_reason": None,
}
HOLD_LIFTED = {
    **HOLD,
    "status": "lifted",
    "lifted_by": "operator-2",
    "lifted_at": "2027-03-20T09:30:00Z",
    "lift_reason": "a training session",
    "audit": {"seq": 77, "entry_hash": "ab" * 32},
}

CASES = [
    Case(
        "check",
        ["check", IIN, "--election", ELECTION],
        "POST",
        "/v1/eligibility/check",
        {"iin": IIN, "election_id": ELECTION},
        DECISION,
        [DECISION["decision_id"], "eligible", "75-0123", "School No. 5", "override", OVERRIDE_ID],
    ),
    Case(
        "precinct-check",
        ["precinct-check", IIN, "--election", ELECTION, "--precinct", "75-0001"],
        "POST",
        "/v1/precinct-checks",
        {"iin": IIN, "election_id": ELECTION, "precinct_id": "75-0001"},
        PRECINCT_CHECK,
        [PRECINCT_CHECK["check_id"], "OTHER_PRECINCT", "75-0123", "seq 42"],
    ),
    Case(
        "override create",
        [
            "override",
            "create",
            *("--iin", IIN, "--election", ELECTION, "--kind", "assign"),
            *("--precinct", "75-0123", "--reason-code", "ADDRESS_NOT_COVERED"),
            *("--reason-text", "New building not yet in the boundaries"),
            *("--document", "TEC-2027-17", "--expires-on", "2027-03-02"),
        ],
        "POST",
        "/v1/overrides",
        {
            "iin": IIN,
            "election_id": ELECTION,
            "kind": "assign",
            "precinct_id": "75-0123",
            "reason_code": "ADDRESS_NOT_COVERED",
            "reason_text": "New building not yet in the boundaries",
            "document_ref": "TEC-2027-17",
            "expires_on": "2027-03-02",
        },
        OVERRIDE,
        [OVERRIDE_ID, "pending", "ADDRESS_NOT_COVERED", "TEC-2027-17", "2027-03-02"],
    ),
    Case(
        "override approve",
        ["override", "approve", OVERRIDE_ID],
        "POST",
        f"/v1/overrides/{OVERRIDE_ID}/approve",
        {},
        APPROVED,
        [OVERRIDE_ID, "active", "approve", "operator-2"],
    ),
    Case(
        "override refuse",
        ["override", "refuse", OVERRIDE_ID, "--reason", "no court decision attached"],
        "POST",
        f"/v1/overrides/{OVERRIDE_ID}/refuse",
        {"reason": "no court decision attached"},
        REFUSED,
        [OVERRIDE_ID, "refused"],
    ),
    Case(
        "override revoke",
        ["override", "revoke", OVERRIDE_ID, "--reason", "decision overturned"],
        "POST",
        f"/v1/overrides/{OVERRIDE_ID}/revoke",
        {"reason": "decision overturned"},
        REVOCATION_REQUESTED,
        [OVERRIDE_ID, "active", "revocation requests", "pending", "decision overturned"],
    ),
    Case(
        "override revoke-approve",
        ["override", "revoke-approve", OVERRIDE_ID],
        "POST",
        f"/v1/overrides/{OVERRIDE_ID}/revoke/approve",
        {},
        REVOKED,
        [OVERRIDE_ID, "revoked", "approved", "operator-3"],
    ),
    Case(
        "override revoke-approve naming the request reviewed",
        ["override", "revoke-approve", OVERRIDE_ID, "--request", "undo-request-1"],
        "POST",
        f"/v1/overrides/{OVERRIDE_ID}/revoke/approve",
        {"undo_request_id": "undo-request-1"},
        REVOKED,
        [OVERRIDE_ID, "revoked", "approved", "operator-3"],
    ),
    Case(
        "override revoke-refuse",
        ["override", "revoke-refuse", OVERRIDE_ID, "--reason", "appeal pending"],
        "POST",
        f"/v1/overrides/{OVERRIDE_ID}/revoke/refuse",
        {"reason": "appeal pending"},
        REVOCATION_REFUSED,
        [OVERRIDE_ID, "active", "refused", "operator-3", "appeal pending"],
    ),
    Case(
        "override list",
        ["override", "list", "--election", ELECTION, "--status", "pending", "--limit", "20"],
        "GET",
        "/v1/overrides",
        None,
        OVERRIDE_LIST,
        [
            OVERRIDE_ID,
            "second-override",
            "pending: operator-1",
            "active",
            f"2 shown; more with --cursor {NEXT_PAGE}",
        ],
        query={"election_id": ELECTION, "status": "pending", "limit": "20"},
    ),
    Case(
        "override list, every filter, from a cursor",
        [
            *("override", "list", "--kind", "assign", "--precinct", "75-0123"),
            *("--created-after", "2027-02-01T00:00:00+05:00"),
            *("--created-before", "2027-03-01T00:00:00+05:00", "--cursor", NEXT_PAGE),
        ],
        "GET",
        "/v1/overrides",
        None,
        {"items": [OVERRIDE], "next": None},
        [OVERRIDE_ID, "1 shown"],
        query={
            "kind": "assign",
            "precinct_id": "75-0123",
            "created_after": "2027-02-01T00:00:00+05:00",
            "created_before": "2027-03-01T00:00:00+05:00",
            "cursor": NEXT_PAGE,
        },
    ),
    Case(
        "registration list",
        [
            *("registration", "list", "--election", ELECTION, "--status", "cancelled"),
            *("--precinct", "75-0123", "--registered-after", "2027-03-01T07:00:00+05:00"),
            *("--limit", "50"),
        ],
        "GET",
        "/v1/day-registrations",
        None,
        {"items": [CANCELLED], "next": None},
        [REGISTRATION_ID, "cancelled", "75-0123", "operator-3", "1 shown"],
        query={
            "election_id": ELECTION,
            "status": "cancelled",
            "precinct_id": "75-0123",
            "registered_after": "2027-03-01T07:00:00+05:00",
            "limit": "50",
        },
    ),
    Case(
        "elections list",
        ["elections", "list"],
        "GET",
        "/v1/elections",
        None,
        {"items": [ELECTION_BODY]},
        [ELECTION, "presidential", "2027-03-21", "opens=07:00, closes=20:00", "kz-2025.1"],
    ),
    Case(
        "elections show",
        ["elections", "show", ELECTION],
        "GET",
        f"/v1/elections/{ELECTION}",
        None,
        ELECTION_BODY,
        [
            *(ELECTION, "presidential", "2027-03-21", "kz-2025.1", "2027-01-20", "2027-03-01"),
            "opens=2027-03-06T00:00, closes=2027-03-20T18:00",
            "presence lists",
            "opens=2027-01-20T00:00, closes=2027-03-20T18:00",
        ],
    ),
    Case(
        "precincts list",
        ["precincts", "list", "--kato", "751110000", "--day-registration", "--limit", "10"],
        "GET",
        "/v1/precincts",
        None,
        {"items": [PRECINCT_BODY], "total": 3},
        ["75-0123", "School No. 5", "751110000", "1 shown of 3"],
        query={"kato": "751110000", "day_registration": "true", "limit": "10"},
    ),
    Case(
        "precincts show",
        ["precincts", "show", "75-0123"],
        "GET",
        "/v1/precincts/75-0123",
        None,
        PRECINCT_BODY,
        ["75-0123", "School No. 5", "Abay ave 10", "Абай даңғылы 1-99 (odd)", "0203000123450001"],
    ),
    Case(
        "registration show",
        ["registration", "show", REGISTRATION_ID],
        "GET",
        f"/v1/day-registrations/{REGISTRATION_ID}",
        None,
        REGISTRATION,
        [REGISTRATION_ID, "active", "75-0123", "2027-03-02T00:00:00+05:00"],
    ),
    Case(
        "registration cancel",
        ["registration", "cancel", REGISTRATION_ID, "--reason", "registered at the wrong station"],
        "POST",
        f"/v1/day-registrations/{REGISTRATION_ID}/cancel",
        {"reason": "registered at the wrong station"},
        CANCELLATION_REQUESTED,
        [REGISTRATION_ID, "active", "cancellation requests", "pending", "operator-1"],
    ),
    Case(
        "registration cancel-approve",
        ["registration", "cancel-approve", REGISTRATION_ID],
        "POST",
        f"/v1/day-registrations/{REGISTRATION_ID}/cancel/approve",
        {},
        CANCELLED,
        [REGISTRATION_ID, "cancelled", "operator-3", "registered at the wrong station"],
    ),
    Case(
        "registration cancel-refuse",
        ["registration", "cancel-refuse", REGISTRATION_ID, "--reason", "the station was right"],
        "POST",
        f"/v1/day-registrations/{REGISTRATION_ID}/cancel/refuse",
        {"reason": "the station was right"},
        CANCELLATION_REFUSED,
        [REGISTRATION_ID, "active", "refused", "the station was right"],
    ),
    Case(
        "entries show",
        ["entries", "show", ENTRY_ID],
        "GET",
        f"/v1/list-entries/{ENTRY_ID}",
        None,
        ENTRY,
        [ENTRY_ID, "special_presence", "active", "75-0900", "City Hospital No. 4", "letter 17/03"],
    ),
    Case(
        "entries cancel",
        ["entries", "cancel", ENTRY_ID, "--reason", "discharged"],
        "POST",
        f"/v1/list-entries/{ENTRY_ID}/cancel",
        {"reason": "discharged"},
        ENTRY,
        [ENTRY_ID, "active"],
    ),
    Case(
        "entries cancel-approve",
        ["entries", "cancel-approve", ENTRY_ID, "--request", REGISTRATION_ID],
        "POST",
        f"/v1/list-entries/{ENTRY_ID}/cancel/approve",
        {"undo_request_id": REGISTRATION_ID},
        ENTRY_CANCELLED,
        [ENTRY_ID, "cancelled", "operator-2", "discharged"],
    ),
    Case(
        "entries cancel-refuse",
        ["entries", "cancel-refuse", ENTRY_ID, "--reason", "still there"],
        "POST",
        f"/v1/list-entries/{ENTRY_ID}/cancel/refuse",
        {"reason": "still there"},
        ENTRY,
        [ENTRY_ID, "active"],
    ),
    Case(
        "entries list",
        [
            *("entries", "list", "--election", ELECTION, "--kind", "special_presence"),
            *("--status", "cancelled", "--limit", "20"),
        ],
        "GET",
        "/v1/list-entries",
        None,
        {"items": [ENTRY_CANCELLED, {**ENTRY, "id": "second-entry"}], "next": NEXT_PAGE},
        [
            ENTRY_ID,
            "second-entry",
            "special_presence",
            "cancelled",
            "75-0900",
            "letter 17/03",
            f"2 shown; more with --cursor {NEXT_PAGE}",
        ],
        query={
            "election_id": ELECTION,
            "kind": "special_presence",
            "status": "cancelled",
            "limit": "20",
        },
    ),
    Case(
        "entries list, every filter, from a cursor",
        [
            *("entries", "list", "--precinct", "75-0900"),
            *("--created-after", "2027-03-01T00:00:00+05:00"),
            *("--created-before", "2027-03-20T18:00:00+05:00", "--cursor", NEXT_PAGE),
        ],
        "GET",
        "/v1/list-entries",
        None,
        {"items": [ENTRY], "next": None},
        [ENTRY_ID, "active", "1 shown"],
        query={
            "precinct_id": "75-0900",
            "created_after": "2027-03-01T00:00:00+05:00",
            "created_before": "2027-03-20T18:00:00+05:00",
            "cursor": NEXT_PAGE,
        },
    ),
    Case(
        "holds list",
        ["holds", "list"],
        "GET",
        "/v1/account-holds",
        None,
        {"items": [HOLD]},
        [HOLD_ID, "walker@pec", "commission", "101", "1 shown"],
    ),
    Case(
        "holds lift",
        ["holds", "lift", HOLD_ID, "--reason", "a training session"],
        "POST",
        f"/v1/account-holds/{HOLD_ID}/lift",
        {"reason": "a training session"},
        HOLD_LIFTED,
        [HOLD_ID, "walker@pec", "lifted", "operator-2", "a training session", "seq=77"],
    ),
]
by_name = pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])


# --- every command --------------------------------------------------------------------------


@by_name
def test_each_command_sends_its_request_and_shows_the_answer(api: FakeApi, case: Case) -> None:
    api.body = case.answer
    result = run([*case.args, "--token", TOKEN])

    assert result.exit_code == 0, result.output
    request = api.only_request
    assert request.method == case.method
    assert request.url.scheme == "http"
    assert request.url.host == "127.0.0.1"
    assert request.url.port == 8000
    assert request.url.path == case.path
    assert dict(request.url.params) == case.query
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept-Language"] == DEFAULT_LANGUAGE.value
    if case.sent is None:
        assert request.content == b""
    else:
        assert request.headers["Content-Type"] == "application/json"
        assert body_of(request) == case.sent
    for text in case.shown:
        assert text in result.stdout
    assert TOKEN not in result.output


@by_name
def test_each_command_with_json_prints_the_server_body(api: FakeApi, case: Case) -> None:
    api.body = case.answer
    result = run([*case.args, "--token", TOKEN, "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == case.answer


@by_name
def test_no_command_puts_the_iin_in_a_url(api: FakeApi, case: Case) -> None:
    api.body = case.answer
    run([*case.args, "--token", TOKEN])

    assert api.requests
    for request in api.requests:
        assert IIN not in str(request.url)
        assert IIN not in request.url.raw_path.decode()


@by_name
def test_each_command_exits_4_when_the_server_refuses(api: FakeApi, case: Case) -> None:
    api.answer(409, problem(409, "CONFLICTING_STATE", "That cannot be done now"))
    result = run([*case.args, "--token", TOKEN])

    assert result.exit_code == commands.EXIT_API_REFUSED
    assert "voterctl: refused: CONFLICTING_STATE: That cannot be done now" in result.stderr
    assert result.stdout == ""


# --- what goes over the wire ----------------------------------------------------------------


def test_override_create_leaves_out_the_precinct_and_expiry_it_was_not_given(
    api: FakeApi,
) -> None:
    api.body = {**OVERRIDE, "kind": "exclude", "precinct_id": None}
    result = run(
        [
            "override",
            "create",
            *("--iin", IIN, "--election", ELECTION, "--kind", "exclude"),
            *("--reason-code", "COURT_DECISION", "--reason-text", "court ruling"),
            *("--document", "court 2-123/2027", "--token", TOKEN),
        ]
    )

    assert result.exit_code == 0, result.output
    assert body_of(api.only_request) == {
        "iin": IIN,
        "election_id": ELECTION,
        "kind": "exclude",
        "reason_code": "COURT_DECISION",
        "reason_text": "court ruling",
        "document_ref": "court 2-123/2027",
    }


def test_override_create_rejects_an_unknown_kind_before_calling_the_server(api: FakeApi) -> None:
    result = run(
        [
            "override",
            "create",
            *("--iin", IIN, "--election", ELECTION, "--kind", "delete"),
            *("--reason-code", "X", "--reason-text", "x", "--document", "d", "--token", TOKEN),
        ]
    )

    assert result.exit_code == 2
    assert api.requests == []


def test_override_list_without_filters_sends_no_query(api: FakeApi) -> None:
    api.body = {"items": [], "next": None}
    result = run(["override", "list", "--token", TOKEN])

    assert result.exit_code == 0, result.output
    assert api.only_request.url.query == b""
    assert "0 shown" in result.stdout


def test_language_server_and_token_come_from_options_or_environment(api: FakeApi) -> None:
    api.body = DECISION
    result = run(
        ["check", IIN, "--election", ELECTION, "--lang", "kk"],
        VOTER_SERVER_URL="https://voter.example.kz/",
        VOTER_TOKEN=TOKEN,
    )

    assert result.exit_code == 0, result.output
    request = api.only_request
    assert str(request.url) == "https://voter.example.kz/v1/eligibility/check"
    assert request.headers["Accept-Language"] == "kk"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_an_id_is_one_path_segment_however_it_is_spelled(api: FakeApi) -> None:
    api.body = REGISTRATION
    result = run(["registration", "show", "../../overrides", "--token", TOKEN])

    assert result.exit_code == 0, result.output
    assert api.only_request.url.raw_path == b"/v1/day-registrations/..%2F..%2Foverrides"


def test_an_iin_given_where_an_id_belongs_is_refused_before_any_request(api: FakeApi) -> None:
    result = run(["registration", "cancel", IIN, "--reason", "oops", "--token", TOKEN])

    assert result.exit_code == 2
    assert "looks like an IIN" in result.stderr
    assert api.requests == []


@pytest.mark.parametrize(
    "written", ["8801 0130 0123", "880101-300123", "８８０１０１３００１２３", "8801\u200b01300123"]
)
def test_an_iin_written_grouped_or_in_other_digits_is_refused_where_an_id_belongs(
    api: FakeApi, written: str
) -> None:
    result = run(["override", "approve", written, "--token", TOKEN])

    assert result.exit_code == 2
    assert "looks like an IIN" in result.stderr
    assert api.requests == []


def test_an_id_the_service_issued_is_sent_even_when_its_groups_join_into_twelve_digits(
    api: FakeApi,
) -> None:
    # Dashes join "12345678" and "9012" into a run of twelve: about 3% of random UUIDs.
    issued = "12345678-9012-4abc-8def-0123456789ab"
    api.body = {**OVERRIDE, "id": issued}
    result = run(["override", "approve", issued, "--token", TOKEN])

    assert result.exit_code == 0, result.output
    assert api.only_request.url.raw_path == f"/v1/overrides/{issued}/approve".encode()


# --- tokens ---------------------------------------------------------------------------------


def test_missing_token_is_a_usage_error_that_says_how_to_get_one(api: FakeApi) -> None:
    result = run(["check", IIN, "--election", ELECTION])

    assert result.exit_code == 2
    assert "voterctl: no token" in result.stderr
    assert "--token-file" in result.stderr
    assert "voterctl token mint" in result.stderr
    assert api.requests == []


def test_token_is_read_from_the_token_file(api: FakeApi, tmp_path: Path) -> None:
    token_file = tmp_path / "operator.jwt"
    token_file.write_text(TOKEN + "\n", "utf-8")
    api.body = APPROVED
    result = run(["override", "approve", OVERRIDE_ID, "--token-file", str(token_file)])

    assert result.exit_code == 0, result.output
    assert api.only_request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in result.output


def test_token_file_from_the_environment(api: FakeApi, tmp_path: Path) -> None:
    token_file = tmp_path / "operator.jwt"
    token_file.write_text(TOKEN, "utf-8")
    api.body = DECISION
    result = run(["check", IIN, "--election", ELECTION], VOTER_TOKEN_FILE=str(token_file))

    assert result.exit_code == 0, result.output
    assert api.only_request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "is empty"), (f"{TOKEN}\nsecond-line", "contains whitespace")],
    ids=["empty", "multi-line"],
)
def test_an_unusable_token_file_is_refused_without_echoing_it(
    api: FakeApi, tmp_path: Path, content: str, message: str
) -> None:
    token_file = tmp_path / "operator.jwt"
    token_file.write_text(content, "utf-8")
    result = run(["check", IIN, "--election", ELECTION, "--token-file", str(token_file)])

    assert result.exit_code == 2
    assert message in result.stderr
    assert TOKEN not in result.stderr
    assert api.requests == []


def test_an_unreadable_token_file_is_named(api: FakeApi, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jwt"
    result = run(["check", IIN, "--election", ELECTION], VOTER_TOKEN_FILE=str(missing))

    assert result.exit_code == 2
    assert "nope.jwt" in result.stderr
    assert api.requests == []


def test_a_token_and_a_token_file_together_are_ambiguous(api: FakeApi, tmp_path: Path) -> None:
    token_file = tmp_path / "operator.jwt"
    token_file.write_text(TOKEN, "utf-8")
    result = run(
        ["check", IIN, "--election", ELECTION, "--token-file", str(token_file)], VOTER_TOKEN=TOKEN
    )

    assert result.exit_code == 2
    assert "not both" in result.stderr
    assert api.requests == []


# --- refusals and outages -------------------------------------------------------------------


def problem(status: int, code: str, detail: str, **extensions: Any) -> dict[str, Any]:
    return {
        "type": f"urn:voter-eligibility:problem:{code}",
        "title": detail,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": "req-0123456789",
        **extensions,
    }


def test_a_409_names_the_code_the_request_id_and_the_extensions(api: FakeApi) -> None:
    api.answer(
        409,
        problem(
            409,
            "ALREADY_REGISTERED",
            "The voter already has an active day registration",
            registration_id=REGISTRATION_ID,
            precinct_id="75-0123",
            reasons=[{"code": "UNDER_18", "message": "Under 18 on voting day"}],
        ),
    )
    result = run(["registration", "cancel", REGISTRATION_ID, "--reason", "x", "--token", TOKEN])

    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        "voterctl: refused: ALREADY_REGISTERED: The voter already has an active day "
        "registration (request id req-0123456789)",
        f"  registration_id: {REGISTRATION_ID}",
        "  precinct_id: 75-0123",
        "  reasons: UNDER_18: Under 18 on voting day",
    ]


def test_a_refusal_with_json_also_prints_the_problem_body_for_scripts(api: FakeApi) -> None:
    body = problem(404, "ELECTION_NOT_FOUND", "No such election")
    api.answer(404, body)
    result = run(["check", IIN, "--election", "nope", "--token", TOKEN, "--json"])

    assert result.exit_code == 4
    assert json.loads(result.stdout) == body
    assert "refused: ELECTION_NOT_FOUND" in result.stderr


def test_a_validation_failure_lists_each_bad_field(api: FakeApi) -> None:
    errors = [{"field": "body.precinct_id", "type": "missing"}]
    api.answer(422, problem(422, "VALIDATION_FAILED", "Invalid request", errors=errors))
    result = run(["override", "list", "--token", TOKEN])

    assert result.exit_code == 4
    assert "  errors: field=body.precinct_id, type=missing" in result.stderr


def test_401_says_to_mint_or_pass_a_token_and_never_prints_it(api: FakeApi) -> None:
    api.answer(401, problem(401, "UNAUTHENTICATED", "Missing or invalid bearer token"))
    result = run(["override", "list", "--token", TOKEN])

    assert result.exit_code == 4
    assert "refused: UNAUTHENTICATED" in result.stderr
    assert "hint: pass a token" in result.stderr
    assert "voterctl token mint" in result.stderr
    assert TOKEN not in result.output


def test_429_says_when_to_retry(api: FakeApi) -> None:
    api.answer(429, problem(429, "RATE_LIMITED", "Too many requests"), **{"Retry-After": "30"})
    result = run(["check", IIN, "--election", ELECTION, "--token", TOKEN])

    assert result.exit_code == 4
    assert "retry after: 30 s" in result.stderr


def test_503_exits_5_as_server_unavailable(api: FakeApi) -> None:
    api.answer(
        503,
        problem(503, "UNDETERMINED", "The registry did not answer", upstream="registry"),
        **{"Retry-After": "5"},
    )
    result = run(["check", IIN, "--election", ELECTION, "--token", TOKEN])

    assert result.exit_code == commands.EXIT_UNAVAILABLE
    assert result.stderr.splitlines() == [
        "voterctl: server unavailable: UNDETERMINED: The registry did not answer "
        "(request id req-0123456789)",
        "  upstream: registry",
        "  retry after: 5 s",
    ]


def test_a_proxy_error_page_without_problem_json_exits_5_with_the_status(api: FakeApi) -> None:
    api.status, api.content = 502, b"<html>Bad Gateway</html>"
    api.headers = {"Content-Type": "text/html"}
    result = run(["override", "list", "--token", TOKEN])

    assert result.exit_code == 5
    assert "server unavailable: HTTP_502: Bad Gateway" in result.stderr


def test_a_success_that_is_not_json_is_not_trusted(api: FakeApi) -> None:
    api.content, api.headers = b"ok", {"Content-Type": "text/plain"}
    result = run(["override", "list", "--token", TOKEN])

    assert result.exit_code == 5
    assert "without a JSON object" in result.stderr


ConnectFault = Callable[[httpx.Request], Exception]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (lambda r: httpx.ConnectError("Connection refused", request=r), "cannot reach"),
        (lambda r: httpx.ReadTimeout("timed out", request=r), "no answer from"),
    ],
    ids=["refused", "timeout"],
)
def test_an_unreachable_server_exits_5(api: FakeApi, fault: ConnectFault, message: str) -> None:
    api.error = fault(httpx.Request("POST", "http://127.0.0.1:8000/"))
    result = run(["check", IIN, "--election", ELECTION, "--token", TOKEN])

    assert result.exit_code == 5
    assert result.stderr.startswith(f"voterctl: server unavailable: {message}")
    assert IIN not in result.output


def test_a_server_that_is_not_an_http_url_is_a_usage_error(api: FakeApi) -> None:
    result = run(["check", IIN, "--election", ELECTION, "--token", TOKEN, "--server", "ftp://x"])

    assert result.exit_code == 2
    assert "--server must be an http:// or https:// URL" in result.stderr
    assert api.requests == []


# --- presence import: IINs from a file, answers by line -------------------------------------

OTHER_IIN = "900101300126"


def _presence_answer(*results: dict[str, Any]) -> dict[str, Any]:
    refused = sum(1 for r in results if r["entry_id"] is None)
    return {
        "import_id": "import-1",
        "election_id": ELECTION,
        "precinct": {**PRECINCT, "id": "75-0900"},
        "added": len(results) - refused,
        "refused": refused,
        "results": list(results),
    }


def _result(index: int, entry_id: str | None, code: str | None = None, holder: Any = None) -> Any:
    return {"index": index, "entry_id": entry_id, "code": code, "holder": holder, "audit": None}


def _import(path: Path) -> Result:
    return run(
        [
            *("presence", "import", "--election", ELECTION, "--precinct", "75-0900"),
            *("--document-ref", "letter 17/03", str(path), "--token", TOKEN),
        ]
    )


def test_presence_import_sends_the_files_iins_and_prints_each_line(
    api: FakeApi, tmp_path: Path
) -> None:
    listed = tmp_path / "present.txt"
    listed.write_text(f"{IIN}\n\n  {OTHER_IIN}  \n", "utf-8")
    api.body = _presence_answer(_result(0, ENTRY_ID), _result(1, REGISTRATION_ID))

    result = _import(listed)

    assert result.exit_code == 0, result.output
    request = api.only_request
    assert (request.method, request.url.path) == ("POST", "/v1/presence-lists")
    assert body_of(request) == {
        "election_id": ELECTION,
        "precinct_id": "75-0900",
        "iins": [IIN, OTHER_IIN],
        "document_ref": "letter 17/03",
    }
    # Lines 1 and 3 (the blank line is skipped), by number: never the IIN.
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["1", ENTRY_ID, "—", "—"] in rows
    assert ["3", REGISTRATION_ID, "—", "—"] in rows
    assert IIN not in result.output
    assert OTHER_IIN not in result.output


def test_presence_import_exits_2_when_any_line_was_refused(api: FakeApi, tmp_path: Path) -> None:
    listed = tmp_path / "present.txt"
    listed.write_text(f"{IIN}\n{OTHER_IIN}\n", "utf-8")
    holder = {"kind": "day_registration", "id": REGISTRATION_ID}
    api.body = _presence_answer(_result(0, ENTRY_ID), _result(1, None, "ALREADY_ON_LIST", holder))

    result = _import(listed)

    assert result.exit_code == 2, result.output
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["2", "—", "ALREADY_ON_LIST", "day_registration", REGISTRATION_ID] in rows
    assert OTHER_IIN not in result.output


def test_presence_import_refuses_an_empty_file_before_calling_the_server(
    api: FakeApi, tmp_path: Path
) -> None:
    listed = tmp_path / "present.txt"
    listed.write_text("\n  \n", "utf-8")

    result = _import(listed)

    assert result.exit_code == 2
    assert "no IIN in" in result.output
    assert api.requests == []
