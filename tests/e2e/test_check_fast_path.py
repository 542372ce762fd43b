"""The eligibility check's fast path answers exactly as the FastAPI route does (issue 5).

Two apps on the same country, one with ``check_fast_path`` on and one with it off, get the
same generated requests: good and bad bodies, media types, tokens, roles, headers past their
bounds, query strings. Their answers must match in status, the headers a client acts on and
the body, apart from what is unique to one answer (ids, times, receipts).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.api.fast_check import EligibilityFastPath
from service.domain.caller import Role
from tests.support import (
    ELECTION_ID,
    NOT_IN_REGISTRY,
    PEOPLE,
    Keys,
    load_reference,
    make_settings,
    mock_transports,
    running_app,
    token,
    write_country,
)

CHECK = "/v1/eligibility/check"
# What differs between any two answers to one request: never compared.
UNIQUE_TO_ONE_ANSWER = {"request_id", "decision_id", "decided_at", "audit"}
HEADERS_COMPARED = ("content-type", "content-language", "www-authenticate", "retry-after")


class Served:
    """Counts the requests the fast path answered itself."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        answer = EligibilityFastPath._answer

        async def counted(path: EligibilityFastPath, *args: Any, **kwargs: Any) -> None:
            self.count += 1
            await answer(path, *args, **kwargs)

        monkeypatch.setattr(EligibilityFastPath, "_answer", counted)


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[dict[bool, TestClient]]:
    """The same service twice: with the fast path, and without it."""
    clients: dict[bool, TestClient] = {}
    with contextlib.ExitStack() as stack:
        for fast in (True, False):
            directory = tmp_path_factory.mktemp(f"fast-{fast}")
            country = write_country(directory / "country")
            settings_ = make_settings(
                f"sqlite:///{directory / 'voter.db'}",
                keys,
                check_fast_path=fast,
                rate_limit_per_minute=1_000_000,
            )
            load_reference(settings_, country)
            _, client = stack.enter_context(running_app(settings_, mock_transports(country)))
            clients[fast] = client
        yield clients


def comparable(response: httpx.Response) -> dict[str, Any]:
    body: Any = response.content
    if response.headers.get("content-type", "").startswith(("application/json", "application/p")):
        body = response.json()
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in UNIQUE_TO_ONE_ANSWER}
    return {
        "status": response.status_code,
        "headers": {name: response.headers.get(name) for name in HEADERS_COMPARED},
        "body": body,
    }


def ask(client: TestClient, request: dict[str, Any]) -> httpx.Response:
    return client.post(
        CHECK + request["query"], content=request["content"], headers=request["headers"]
    )


def usual_request(keys: Keys, who: str) -> dict[str, Any]:
    """A check as the front ends send it, for one of the test country's people."""
    return {
        "query": "",
        "content": f'{{"iin": "{PEOPLE[who]["iin"]}", "election_id": "{ELECTION_ID}"}}',
        "headers": {"authorization": _bearer(keys, Role.EGOV), "content-type": "application/json"},
    }


def _bearer(keys: Keys, role: Role | None) -> str:
    return f"Bearer {token(keys, role)}" if role else "Bearer not-a-token"


IINS = [person["iin"] for person in PEOPLE.values()] + [
    NOT_IN_REGISTRY,
    "900101300127",  # check digit wrong
    "90010130012",  # too short
    "040540001230",  # a business
]
# Weighted towards the usual request, which the fast path answers itself; the odd ones check
# that the route still gets everything else.
WELL_FORMED_BODIES = st.builds(
    lambda iin, election: f'{{"iin": "{iin}", "election_id": "{election}"}}'.encode(),
    st.sampled_from(IINS),
    st.sampled_from([ELECTION_ID] * 6 + ["2031-nowhere", "bad id!"]),
)
BODIES = st.one_of(
    WELL_FORMED_BODIES,
    WELL_FORMED_BODIES,
    WELL_FORMED_BODIES,
    st.sampled_from(
        [
            b"",
            b"{",
            b"[]",
            b"null",
            b'{"iin": 900101300127, "election_id": "2027-president"}',
            b'{"iin": "' + PEOPLE["under_18"]["iin"].encode() + b'"}',
            b'{"iin": "'
            + PEOPLE["under_18"]["iin"].encode()
            + b'", "election_id": "2027-president", "extra": 1}',
            '{"iin": "٩٠٠١٠١٣٠٠١٢٧", "election_id": "2027-president"}'.encode(),
            b'\xef\xbb\xbf{"iin": "'
            + PEOPLE["under_18"]["iin"].encode()
            + b'", "election_id": "2027-president"}',
        ]
    ),
)
MEDIA_TYPES = st.sampled_from(
    [
        *["application/json"] * 6,
        "Application/JSON; charset=utf-8",
        "application/json; charset=latin-1",
        "application/merge-patch+json",
        "text/plain",
        None,
    ]
)
ROLES = st.sampled_from([*[Role.EGOV] * 6, Role.COMMISSION, Role.OPERATOR, Role.AUDITOR, None])
LANGUAGES = st.sampled_from([None, "ru", "ru", "kk", "en", "en", "fr, ru;q=0.5", "x" * 257])
REQUEST_IDS = st.sampled_from([None, "abcdefgh-1234", "short", "r" * 129])
QUERIES = st.sampled_from([*[""] * 8, "?lang=ru", "?"])


@st.composite
def requests(draw: st.DrawFn, keys: Keys) -> dict[str, Any]:
    headers: dict[str, str] = {}
    role = draw(ROLES)
    if draw(st.booleans()) or role is not None:
        headers["Authorization"] = _bearer(keys, role)
    for name, value in (
        ("Content-Type", draw(MEDIA_TYPES)),
        ("Accept-Language", draw(LANGUAGES)),
        ("X-Request-ID", draw(REQUEST_IDS)),
    ):
        if value is not None:
            headers[name] = value
    return {"query": draw(QUERIES), "content": draw(BODIES), "headers": headers}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_fast_path_and_the_route_give_the_same_answer(
    twins: dict[bool, TestClient], keys: Keys, data: st.DataObject
) -> None:
    request = data.draw(requests(keys))
    assert comparable(ask(twins[True], request)) == comparable(ask(twins[False], request))


def test_the_usual_request_is_answered_by_the_fast_path(
    twins: dict[bool, TestClient], keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = Served(monkeypatch)
    request = usual_request(keys, "under_18")
    fast, route = ask(twins[True], request), ask(twins[False], request)
    assert served.count == 1
    assert fast.status_code == route.status_code == 200
    assert fast.json()["reasons"] == route.json()["reasons"]
    assert fast.json()["outcome"] == "ineligible"


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("query", "?x=1"),
        ("content", b"{"),
        ("content-type", "text/plain"),
        ("accept-language", "x" * 257),
        ("x-request-id", "r" * 129),
    ],
)
def test_unusual_requests_are_left_to_the_route(
    twins: dict[bool, TestClient],
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
    value: Any,
) -> None:
    served = Served(monkeypatch)
    request = usual_request(keys, "under_18")
    if change in ("query", "content"):
        request[change] = value
    else:
        request["headers"][change] = value
    response = ask(twins[True], request)
    assert served.count == 0
    # The route's own answers to these: a 422 (or 400) problem, never a decision.
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "decision_id" not in response.json()


def test_a_fast_path_decision_is_logged_and_counted_under_the_route(
    twins: dict[bool, TestClient], keys: Keys
) -> None:
    request = usual_request(keys, "deceased")
    before = _requests_counted(twins[True])
    assert ask(twins[True], request).status_code == 200
    assert _requests_counted(twins[True]) == before + 1


def _requests_counted(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if (
            line.startswith("voter_http_requests_total{")
            and f'route="{CHECK}"' in line
            and 'status="200"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
