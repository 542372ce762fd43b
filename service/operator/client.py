"""A small synchronous client for the operator's side of the HTTP API (SPEC §5-7, §11).

Answers are returned as parsed JSON: the CLI only displays them, so modelling every response
here would duplicate the contract for no gain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import Enum
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from service.domain.iin_text import holds_iin_shaped
from service.domain.model import OverrideKind

TIMEOUT_SECONDS = 10.0
# Filters of a listing, by the API's parameter names; None leaves one out.
Filters = Mapping[str, Any]
PROBLEM_FIELDS = frozenset({"type", "title", "status", "detail", "code", "request_id"})


class ApiRefused(Exception):
    """The server answered with a non-2xx status; ``problem`` is its RFC 9457 body."""

    def __init__(
        self, status: int, problem: dict[str, Any], *, retry_after_seconds: int | None = None
    ) -> None:
        super().__init__(f"HTTP {status}: {problem.get('code')}")
        self.status = status
        self.problem = problem
        self.retry_after_seconds = retry_after_seconds

    @property
    def code(self) -> str:
        return str(self.problem.get("code") or f"HTTP_{self.status}")

    @property
    def extensions(self) -> dict[str, Any]:
        return {k: v for k, v in self.problem.items() if k not in PROBLEM_FIELDS}


class ApiUnavailable(Exception):
    """No usable answer: unreachable, timed out, or a body that is not a JSON object."""


class UnsafeUrlValue(ValueError):
    """A value bound for a URL looks like an IIN; SPEC §12 keeps IINs out of every URL."""


def _segment(value: str) -> str:
    # The records' own UUIDs pass: ``iin_text`` reads a canonical UUID as an identifier.
    _refuse_iin_shaped(value)
    # Quote everything, "/" included, so an id can never step into another route.
    return quote(value, safe="")


def _refuse_iin_shaped(value: str) -> None:
    if holds_iin_shaped(value):
        raise UnsafeUrlValue("value looks like an IIN; IINs are sent in request bodies only")


class ApiClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        language: str,
        transport: httpx.BaseTransport | None = None,
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept-Language": language,
                "Accept": "application/json, application/problem+json",
                "User-Agent": "voterctl",
            },
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            # A redirect would resend the bearer token somewhere we did not choose.
            follow_redirects=False,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- operations ----------------------------------------------------------------------

    def check_eligibility(self, *, iin: str, election_id: str) -> dict[str, Any]:
        return self._send("POST", "/v1/eligibility/check", {"iin": iin, "election_id": election_id})

    def check_precinct(self, *, iin: str, election_id: str, precinct_id: str) -> dict[str, Any]:
        body = {"iin": iin, "election_id": election_id, "precinct_id": precinct_id}
        return self._send("POST", "/v1/precinct-checks", body)

    def create_override(
        self,
        *,
        iin: str,
        election_id: str,
        kind: OverrideKind,
        precinct_id: str | None,
        reason_code: str,
        reason_text: str,
        document_ref: str,
        expires_on: dt.date | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "iin": iin,
            "election_id": election_id,
            "kind": kind.value,
            "reason_code": reason_code,
            "reason_text": reason_text,
            "document_ref": document_ref,
        }
        # Left out rather than sent as null, so the server's own defaults apply (the expiry
        # defaults to the day after voting day) and a strict schema sees no stray nulls.
        if precinct_id is not None:
            body["precinct_id"] = precinct_id
        if expires_on is not None:
            body["expires_on"] = expires_on.isoformat()
        return self._send("POST", "/v1/overrides", body)

    def approve_override(self, override_id: str) -> dict[str, Any]:
        return self._send("POST", f"/v1/overrides/{_segment(override_id)}/approve", {})

    def refuse_override(self, override_id: str, *, reason: str) -> dict[str, Any]:
        path = f"/v1/overrides/{_segment(override_id)}/refuse"
        return self._send("POST", path, {"reason": reason})

    def revoke_override(self, override_id: str, *, reason: str) -> dict[str, Any]:
        path = f"/v1/overrides/{_segment(override_id)}/revoke"
        return self._send("POST", path, {"reason": reason})

    def approve_override_revocation(
        self, override_id: str, *, undo_request_id: str | None = None
    ) -> dict[str, Any]:
        path = f"/v1/overrides/{_segment(override_id)}/revoke/approve"
        return self._send("POST", path, _present({"undo_request_id": undo_request_id}))

    def refuse_override_revocation(self, override_id: str, *, reason: str) -> dict[str, Any]:
        path = f"/v1/overrides/{_segment(override_id)}/revoke/refuse"
        return self._send("POST", path, {"reason": reason})

    def list_overrides(
        self, filters: Filters | None = None, *, limit: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        params = _query({**(filters or {}), "limit": limit, "cursor": cursor})
        return self._send("GET", "/v1/overrides", None, params=params)

    def search_overrides(
        self, *, iin: str, filters: Filters | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        body = _present({"iin": iin, **(filters or {}), "cursor": cursor})
        return self._send("POST", "/v1/search/overrides", body)

    def list_account_holds(self) -> dict[str, Any]:
        return self._send("GET", "/v1/account-holds", None)

    def lift_account_hold(self, hold_id: str, *, reason: str) -> dict[str, Any]:
        path = f"/v1/account-holds/{_segment(hold_id)}/lift"
        return self._send("POST", path, {"reason": reason})

    def get_day_registration(self, registration_id: str) -> dict[str, Any]:
        return self._send("GET", f"/v1/day-registrations/{_segment(registration_id)}", None)

    def cancel_day_registration(self, registration_id: str, *, reason: str) -> dict[str, Any]:
        path = f"/v1/day-registrations/{_segment(registration_id)}/cancel"
        return self._send("POST", path, {"reason": reason})

    def approve_day_registration_cancellation(
        self, registration_id: str, *, undo_request_id: str | None = None
    ) -> dict[str, Any]:
        path = f"/v1/day-registrations/{_segment(registration_id)}/cancel/approve"
        return self._send("POST", path, _present({"undo_request_id": undo_request_id}))

    def refuse_day_registration_cancellation(
        self, registration_id: str, *, reason: str
    ) -> dict[str, Any]:
        path = f"/v1/day-registrations/{_segment(registration_id)}/cancel/refuse"
        return self._send("POST", path, {"reason": reason})

    def list_day_registrations(
        self, filters: Filters | None = None, *, limit: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        params = _query({**(filters or {}), "limit": limit, "cursor": cursor})
        return self._send("GET", "/v1/day-registrations", None, params=params)

    def search_day_registrations(
        self, *, iin: str, filters: Filters | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        body = _present({"iin": iin, **(filters or {}), "cursor": cursor})
        return self._send("POST", "/v1/search/day-registrations", body)

    def import_presence_list(
        self, *, election_id: str, precinct_id: str, iins: list[str], document_ref: str
    ) -> dict[str, Any]:
        body = {
            "election_id": election_id,
            "precinct_id": precinct_id,
            "iins": iins,
            "document_ref": document_ref,
        }
        return self._send("POST", "/v1/presence-lists", body)

    def list_list_entries(
        self, filters: Filters | None = None, *, limit: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        params = _query({**(filters or {}), "limit": limit, "cursor": cursor})
        return self._send("GET", "/v1/list-entries", None, params=params)

    def search_list_entries(
        self, *, iin: str, filters: Filters | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        body = _present({"iin": iin, **(filters or {}), "cursor": cursor})
        return self._send("POST", "/v1/search/list-entries", body)

    def record_place_of_stay_application(
        self,
        *,
        election_id: str,
        iin: str,
        stay_address: Mapping[str, str | None],
        document_ref: str,
    ) -> dict[str, Any]:
        body = {
            "election_id": election_id,
            "iin": iin,
            "stay_address": _present(stay_address),
            "document_ref": document_ref,
        }
        return self._send("POST", "/v1/place-of-stay-applications", body)

    def record_mission_application(
        self, *, election_id: str, iin: str, precinct_id: str, document_ref: str
    ) -> dict[str, Any]:
        body = {
            "election_id": election_id,
            "iin": iin,
            "precinct_id": precinct_id,
            "document_ref": document_ref,
        }
        return self._send("POST", "/v1/mission-applications", body)

    def get_list_entry(self, entry_id: str) -> dict[str, Any]:
        return self._send("GET", f"/v1/list-entries/{_segment(entry_id)}", None)

    def cancel_list_entry(self, entry_id: str, *, reason: str) -> dict[str, Any]:
        path = f"/v1/list-entries/{_segment(entry_id)}/cancel"
        return self._send("POST", path, {"reason": reason})

    def approve_list_entry_cancellation(
        self, entry_id: str, *, undo_request_id: str | None = None
    ) -> dict[str, Any]:
        path = f"/v1/list-entries/{_segment(entry_id)}/cancel/approve"
        return self._send("POST", path, _present({"undo_request_id": undo_request_id}))

    def refuse_list_entry_cancellation(self, entry_id: str, *, reason: str) -> dict[str, Any]:
        path = f"/v1/list-entries/{_segment(entry_id)}/cancel/refuse"
        return self._send("POST", path, {"reason": reason})

    def issue_absentee_certificate(
        self, *, election_id: str, iin: str, document_ref: str
    ) -> dict[str, Any]:
        body = {"election_id": election_id, "iin": iin, "document_ref": document_ref}
        return self._send("POST", "/v1/absentee-certificates", body)

    def get_absentee_certificate(self, certificate_id: str) -> dict[str, Any]:
        return self._send("GET", f"/v1/absentee-certificates/{_segment(certificate_id)}", None)

    def cancel_absentee_certificate(self, certificate_id: str, *, reason: str) -> dict[str, Any]:
        path = f"/v1/absentee-certificates/{_segment(certificate_id)}/cancel"
        return self._send("POST", path, {"reason": reason})

    def approve_absentee_certificate_cancellation(
        self, certificate_id: str, *, undo_request_id: str | None = None
    ) -> dict[str, Any]:
        path = f"/v1/absentee-certificates/{_segment(certificate_id)}/cancel/approve"
        return self._send("POST", path, _present({"undo_request_id": undo_request_id}))

    def refuse_absentee_certificate_cancellation(
        self, certificate_id: str, *, reason: str
    ) -> dict[str, Any]:
        path = f"/v1/absentee-certificates/{_segment(certificate_id)}/cancel/refuse"
        return self._send("POST", path, {"reason": reason})

    def list_elections(self) -> dict[str, Any]:
        return self._send("GET", "/v1/elections", None)

    def get_election(self, election_id: str) -> dict[str, Any]:
        return self._send("GET", f"/v1/elections/{_segment(election_id)}", None)

    def list_precincts(
        self, filters: Filters | None = None, *, limit: int | None = None, offset: int | None = None
    ) -> dict[str, Any]:
        params = _query({**(filters or {}), "limit": limit, "offset": offset})
        return self._send("GET", "/v1/precincts", None, params=params)

    def get_precinct(self, precinct_id: str) -> dict[str, Any]:
        return self._send("GET", f"/v1/precincts/{_segment(precinct_id)}", None)

    # --- transport -----------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, json=body, params=params)
        except httpx.TimeoutException as exc:
            raise ApiUnavailable(
                f"no answer from {self.base_url} within {self.timeout_seconds:g} s"
            ) from exc
        except httpx.TransportError as exc:
            # httpx's own text names the failure (refused, DNS, TLS) but never the body.
            raise ApiUnavailable(f"cannot reach {self.base_url}: {exc}") from exc
        if response.is_success:
            parsed = _json_object(response)
            if parsed is None:
                raise ApiUnavailable(
                    f"{method} {path} answered {response.status_code} without a JSON object"
                )
            return parsed
        raise ApiRefused(
            response.status_code,
            _json_object(response) or _stand_in_problem(response),
            retry_after_seconds=_retry_after(response),
        )


def _present(values: Filters) -> dict[str, Any]:
    """Only the values given: the server's defaults apply to the rest."""
    return {name: _wire(value) for name, value in values.items() if value is not None}


def _query(values: Filters) -> dict[str, str]:
    params = {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in _present(values).items()
    }
    for value in params.values():
        _refuse_iin_shaped(value)
    return params


def _wire(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        parsed = response.json()
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _stand_in_problem(response: httpx.Response) -> dict[str, Any]:
    # Proxies and load balancers answer with HTML; keep the status rather than the page.
    return {
        "status": response.status_code,
        "code": f"HTTP_{response.status_code}",
        "detail": response.reason_phrase or "no problem details in the answer",
        "request_id": response.headers.get("X-Request-ID"),
    }


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("Retry-After", "")
    return int(value) if value.isdigit() else None
