"""voterctl's find and list commands, and the commands recording applications, against a fake
API: the IIN from a file or stdin and only in a body, pages followed, closed lists named, and
the API's default language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from service.domain.day_registration import RegistrationStatus
from service.domain.model import ListEntryKind, ListEntryStatus, OverrideKind
from service.domain.overrides import OverrideReason, OverrideStatus
from service.messages import negotiate
from service.operator import commands
from service.operator.client import ApiClient
from tests.unit.test_operator_cli import (
    CLEAN_ENV,
    DECISION,
    ELECTION,
    ENTRY,
    ENTRY_ID,
    IIN,
    OVERRIDE,
    REGISTRATION,
    TOKEN,
    FakeApi,
    app,
    body_of,
)


def _answered_by(monkeypatch: pytest.MonkeyPatch, handle: Any) -> None:
    def make_client(base_url: str, token: str, *, language: str) -> ApiClient:
        transport = httpx.MockTransport(handle)
        return ApiClient(base_url, token, language=language, transport=transport)

    monkeypatch.setattr(commands, "make_client", make_client)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    _answered_by(monkeypatch, fake.handle)
    return fake


class Pages:
    """A fake API answering each request with the next of its pages."""

    def __init__(self, *pages: dict[str, Any]) -> None:
        self.pages = list(pages)
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json=self.pages[len(self.requests) - 1])


@pytest.fixture
def paged(monkeypatch: pytest.MonkeyPatch) -> Pages:
    fake = Pages()
    _answered_by(monkeypatch, fake.handle)
    return fake


def run(args: list[str], *, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app(), [*args, "--token", TOKEN], input=stdin, env=CLEAN_ENV)


def override(number: int) -> dict[str, Any]:
    return {**OVERRIDE, "id": f"0000000{number}-0000-4000-8000-000000000000"}


def test_override_find_reads_the_iin_from_stdin_and_sends_it_only_in_the_body(
    api: FakeApi,
) -> None:
    api.body = {"items": [OVERRIDE], "next": None}

    result = run(
        ["override", "find", "--iin-file", "-", "--election", ELECTION, "--status", "active"],
        stdin=f"{IIN}\n",
    )

    assert result.exit_code == 0, result.output
    request = api.only_request
    assert (request.method, request.url.path) == ("POST", "/v1/search/overrides")
    assert body_of(request) == {"iin": IIN, "election_id": ELECTION, "status": "active"}
    assert IIN not in str(request.url)
    assert OVERRIDE["id"] in result.stdout
    assert IIN not in result.output


def test_registration_find_reads_the_iin_from_a_file(api: FakeApi, tmp_path: Path) -> None:
    api.body = {"items": [REGISTRATION], "next": None}
    iin_file = tmp_path / "voter.txt"
    iin_file.write_text(f"  {IIN}  \n", "utf-8")

    result = run(["registration", "find", "--iin-file", str(iin_file)])

    assert result.exit_code == 0, result.output
    request = api.only_request
    assert (request.method, request.url.path) == ("POST", "/v1/search/day-registrations")
    assert body_of(request) == {"iin": IIN}
    assert REGISTRATION["id"] in result.stdout


def test_entries_find_reads_the_iin_from_stdin_and_sends_it_only_in_the_body(
    api: FakeApi,
) -> None:
    api.body = {"items": [ENTRY], "next": None}

    result = run(
        [
            *("entries", "find", "--iin-file", "-", "--election", ELECTION),
            *("--kind", "special_presence", "--status", "active"),
        ],
        stdin=f"{IIN}\n",
    )

    assert result.exit_code == 0, result.output
    request = api.only_request
    assert (request.method, request.url.path) == ("POST", "/v1/search/list-entries")
    assert body_of(request) == {
        "iin": IIN,
        "election_id": ELECTION,
        "kind": "special_presence",
        "status": "active",
    }
    assert IIN not in str(request.url)
    for shown in (ENTRY_ID, "special_presence", "75-0900", "letter 17/03", "1 shown"):
        assert shown in result.stdout
    assert IIN not in result.output


def test_entries_find_follows_every_page(paged: Pages, tmp_path: Path) -> None:
    second = {**ENTRY, "id": "second-entry", "kind": "mission_application"}
    paged.pages = [{"items": [ENTRY], "next": "c2"}, {"items": [second], "next": None}]
    iin_file = tmp_path / "voter.txt"
    iin_file.write_text(f"{IIN}\n", "utf-8")

    result = run(["entries", "find", "--iin-file", str(iin_file), "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"items": [ENTRY, second], "next": None}
    assert [body_of(r) for r in paged.requests] == [{"iin": IIN}, {"iin": IIN, "cursor": "c2"}]


STAY_ENTRY = {
    **ENTRY,
    "kind": "place_of_stay_application",
    "precinct": {"id": "75-0002", "number": 2, "name": "School No. 7", "address": "Abay 14"},
    "document_ref": "akimat decision 7/2027",
}
MISSION_ENTRY = {
    **ENTRY,
    "kind": "mission_application",
    "precinct": {"id": "99-0001", "number": 1, "name": "Embassy in London", "address": "-"},
    "document_ref": "mission application 3/2027",
}


def test_applications_place_of_stay_sends_the_stay_address_and_the_iin_only_in_the_body(
    api: FakeApi,
) -> None:
    api.body = STAY_ENTRY

    result = run(
        [
            *("applications", "place-of-stay", "--election", ELECTION, "--iin-file", "-"),
            *("--kato", "751110000", "--street", "Абай даңғылы", "--house", "14"),
            *("--document-ref", "akimat decision 7/2027"),
        ],
        stdin=f"{IIN}\n",
    )

    assert result.exit_code == 0, result.output
    request = api.only_request
    assert (request.method, request.url.path) == ("POST", "/v1/place-of-stay-applications")
    assert body_of(request) == {
        "election_id": ELECTION,
        "iin": IIN,
        "stay_address": {"kato": "751110000", "street": "Абай даңғылы", "house": "14"},
        "document_ref": "akimat decision 7/2027",
    }
    assert IIN not in str(request.url)
    for shown in (ENTRY_ID, "place_of_stay_application", "active", "75-0002", "School No. 7"):
        assert shown in result.stdout
    assert IIN not in result.output


def test_applications_place_of_stay_by_address_code(api: FakeApi, tmp_path: Path) -> None:
    api.body = STAY_ENTRY
    iin_file = tmp_path / "voter.txt"
    iin_file.write_text(IIN, "utf-8")

    result = run(
        [
            *("applications", "place-of-stay", "--election", ELECTION),
            *("--iin-file", str(iin_file), "--rca", "0203000123450001", "--document-ref", "d 1"),
        ]
    )

    assert result.exit_code == 0, result.output
    assert body_of(api.only_request)["stay_address"] == {"rca": "0203000123450001"}


def test_applications_place_of_stay_without_a_stay_address_is_refused_before_any_request(
    api: FakeApi,
) -> None:
    result = run(
        [
            *("applications", "place-of-stay", "--election", ELECTION, "--iin-file", "-"),
            *("--document-ref", "akimat decision 7/2027"),
        ],
        stdin=IIN,
    )

    assert result.exit_code == 2
    assert "--rca" in result.stderr
    assert api.requests == []


def test_applications_mission_reads_the_iin_from_stdin_and_prints_the_entry(
    api: FakeApi,
) -> None:
    api.body = MISSION_ENTRY

    result = run(
        [
            *("applications", "mission", "--election", ELECTION, "--iin-file", "-"),
            *("--precinct", "99-0001", "--document-ref", "mission application 3/2027"),
        ],
        stdin=f"{IIN}\n",
    )

    assert result.exit_code == 0, result.output
    request = api.only_request
    assert (request.method, request.url.path) == ("POST", "/v1/mission-applications")
    assert body_of(request) == {
        "election_id": ELECTION,
        "iin": IIN,
        "precinct_id": "99-0001",
        "document_ref": "mission application 3/2027",
    }
    for shown in (ENTRY_ID, "mission_application", "99-0001", "mission application 3/2027"):
        assert shown in result.stdout
    assert IIN not in result.output


def test_find_follows_every_page_and_shows_them_as_one_listing(paged: Pages) -> None:
    paged.pages = [
        {"items": [override(1), override(2)], "next": "c2"},
        {"items": [override(3)], "next": None},
    ]

    result = run(["override", "find", "--iin-file", "-", "--json"], stdin=IIN)

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert [item["id"] for item in shown["items"]] == [override(n)["id"] for n in (1, 2, 3)]
    assert [body_of(r).get("cursor") for r in paged.requests] == [None, "c2"]
    assert all(body_of(r)["iin"] == IIN for r in paged.requests)


def test_a_listing_shows_one_page_and_how_to_get_the_next_unless_told_all(
    paged: Pages,
) -> None:
    paged.pages = [{"items": [override(1)], "next": "c2"}]
    one = run(["registration", "list", "--limit", "1"])
    paged.pages, paged.requests = (
        [
            {"items": [REGISTRATION], "next": "c2"},
            {"items": [REGISTRATION], "next": None},
        ],
        [],
    )
    every = run(["registration", "list", "--limit", "1", "--all", "--json"])

    assert one.exit_code == 0, one.output
    assert "1 shown; more with --cursor c2" in one.stdout
    assert every.exit_code == 0, every.output
    assert [dict(r.url.params) for r in paged.requests] == [
        {"limit": "1"},
        {"limit": "1", "cursor": "c2"},
    ]
    assert json.loads(every.stdout) == {"items": [REGISTRATION, REGISTRATION], "next": None}


@pytest.mark.parametrize(
    ("stdin", "complaint"),
    [
        ("", "no IIN in standard input"),
        ("  \n\n", "no IIN in standard input"),
        (f"{IIN}\n{IIN}\n", "more than one line"),
    ],
)
def test_an_iin_source_that_is_empty_or_holds_several_is_refused_without_echoing_it(
    api: FakeApi, stdin: str, complaint: str
) -> None:
    result = run(["registration", "find", "--iin-file", "-"], stdin=stdin)

    assert result.exit_code == 2
    assert complaint in result.stderr
    assert IIN not in result.output
    assert api.requests == []


def test_an_unreadable_iin_file_is_named(api: FakeApi, tmp_path: Path) -> None:
    result = run(["override", "find", "--iin-file", str(tmp_path / "missing.txt")])

    assert result.exit_code == 2
    assert "missing.txt" in result.stderr
    assert api.requests == []


def test_the_existing_commands_take_the_iin_from_a_file_instead_of_an_argument(
    api: FakeApi,
) -> None:
    api.body = DECISION

    result = run(["check", "--election", ELECTION, "--iin-file", "-"], stdin=IIN)
    both = run(["check", IIN, "--election", ELECTION, "--iin-file", "-"], stdin=IIN)
    neither = run(["check", "--election", ELECTION])

    assert result.exit_code == 0, result.output
    assert body_of(api.only_request) == {"iin": IIN, "election_id": ELECTION}
    assert (both.exit_code, neither.exit_code) == (2, 2)
    assert "--iin-file" in both.stderr


def test_override_create_takes_the_iin_from_a_file(api: FakeApi) -> None:
    api.body = OVERRIDE

    result = run(
        [
            *("override", "create", "--iin-file", "-", "--election", ELECTION),
            *("--kind", "exclude", "--reason-code", "COURT_DECISION"),
            *("--reason-text", "court ruling", "--document", "court 2-123/2027"),
        ],
        stdin=IIN,
    )

    assert result.exit_code == 0, result.output
    assert body_of(api.only_request)["iin"] == IIN


@pytest.mark.parametrize(
    ("command", "closed_lists"),
    [
        (["override", "create"], [OverrideKind, OverrideReason]),
        (["override", "list"], [OverrideStatus, OverrideKind]),
        (["override", "find"], [OverrideStatus, OverrideKind]),
        (["registration", "list"], [RegistrationStatus]),
        (["registration", "find"], [RegistrationStatus]),
        (["entries", "list"], [ListEntryStatus, ListEntryKind]),
        (["entries", "find"], [ListEntryStatus, ListEntryKind]),
    ],
)
def test_each_closed_list_option_names_every_value_in_its_help(
    command: list[str], closed_lists: list[Any]
) -> None:
    result = CliRunner().invoke(app(), [*command, "--help"], env={**CLEAN_ENV, "COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    for closed_list in closed_lists:
        for member in closed_list:
            assert member.value in result.stdout, (command, member)


def test_a_value_outside_a_closed_list_is_refused_naming_the_list(api: FakeApi) -> None:
    result = run(
        [
            "override",
            "create",
            *("--iin-file", "-", "--election", ELECTION),
            *("--kind", "assign", "--reason-code", "BECAUSE"),
            *("--reason-text", "x", "--document", "d"),
        ],
        stdin=IIN,
    )

    assert result.exit_code == 2
    for reason in OverrideReason:
        assert reason.value in result.stderr
    assert api.requests == []


def test_a_server_refusal_names_the_values_a_closed_list_field_takes(api: FakeApi) -> None:
    allowed = [s.value for s in RegistrationStatus]
    api.answer(
        422,
        {
            "status": 422,
            "code": "VALIDATION_FAILED",
            "detail": "The request fields are invalid.",
            "request_id": "req-1",
            "errors": [{"field": "query.status", "type": "enum", "allowed": allowed}],
        },
    )

    result = run(["registration", "list"])

    assert result.exit_code == commands.EXIT_API_REFUSED
    assert "query.status" in result.stderr
    assert all(value in result.stderr for value in allowed)


def test_the_cli_speaks_the_apis_default_language_unless_told_otherwise(api: FakeApi) -> None:
    api.body = DECISION

    default = run(["check", "--election", ELECTION, "--iin-file", "-"], stdin=IIN)
    russian = run(["check", "--election", ELECTION, "--iin-file", "-", "--lang", "ru"], stdin=IIN)

    assert (default.exit_code, russian.exit_code) == (0, 0)
    sent = [request.headers["Accept-Language"] for request in api.requests]
    # What the API answers a request that names no language.
    assert sent == [negotiate(None).value, "ru"]
