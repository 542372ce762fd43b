"""The JWT attack corpus through real HTTP requests (SPEC §12, issue 6).

Every hostile token is sent to ``POST /v1/eligibility/check`` with a valid body; each must give
401 problem+json with a Bearer challenge and a ``security.token.rejected`` log line naming the
reason, and a valid token without a deciding role must give 403. Tokens are built by hand
(base64url, hmac, raw ECDSA signatures) so no attack depends on python-jose agreeing to make it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from httpx import Response

from service.domain.caller import Role
from service.logs import configure_logging
from tests.jwt_crafting import (
    b64url,
    es256_signature,
    flip_signature_byte,
    replace_payload,
    segment,
)
from tests.support import ELECTION_ID, NOW, PEOPLE, Keys, token

NOW_TS = int(NOW.timestamp())
KID = "test"
ISSUER = "voter-tests"
AUDIENCE = "voter-eligibility"
SUBJECT = "attacker@egov"
LEEWAY_SECONDS = 30
MAX_LIFETIME_SECONDS = 3600
MAX_TOKEN_BYTES = 8192
BODY = {"iin": PEOPLE["eligible_permanent"]["iin"], "election_id": ELECTION_ID}
PATH = "/v1/eligibility/check"


# --- hand-made tokens (helpers in tests/jwt_crafting.py) ---------------------------------------


def claims(*, drop: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "jti": "7d1f4c1e-0000-4000-8000-000000000006",
        "iat": NOW_TS - 60,
        "nbf": NOW_TS - 60,
        "exp": NOW_TS + 840,
        "sub": SUBJECT,
        "roles": ["egov"],
        "aud": AUDIENCE,
        "iss": ISSUER,
    }
    base.update(overrides)
    for name in drop:
        del base[name]
    return base


def _private_key(keys: Keys) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(keys.jwt_private.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def es256(payload: dict[str, Any], keys: Keys, **header: Any) -> str:
    """A token whose ES256 signature is genuinely valid for the trusted test key."""
    signing_input = f"{segment({'alg': 'ES256', 'typ': 'JWT', 'kid': KID, **header})}"
    signing_input += f".{segment(payload)}"
    signature = es256_signature(signing_input, _private_key(keys))
    return f"{signing_input}.{b64url(signature)}"


def hs256(payload: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': KID})}.{segment(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def public_der(keys: Keys) -> bytes:
    return serialization.load_pem_public_key(keys.jwt_public.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def bearer(make: Callable[[Keys], str]) -> Callable[[Keys], dict[str, str]]:
    return lambda k: {"Authorization": f"Bearer {make(k)}"}


HeaderFactory = Callable[[Keys], dict[str, str]]

ATTACKS: list[tuple[str, HeaderFactory, str]] = [
    ("no-authorization-header", lambda k: {}, "missing"),
    (
        "non-bearer-scheme",
        lambda k: {"Authorization": f"Basic {b64url(b'tester@egov:hunter2-secret')}"},
        "missing",
    ),
    (
        "alg-none",
        bearer(
            lambda k: f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': KID})}.{segment(claims())}."
        ),
        "algorithm_not_allowed",
    ),
    (
        "hs256-with-public-pem-as-secret",
        bearer(lambda k: hs256(claims(), k.jwt_public.encode())),
        "algorithm_not_allowed",
    ),
    (
        "hs256-with-public-der-as-secret",
        bearer(lambda k: hs256(claims(), public_der(k))),
        "algorithm_not_allowed",
    ),
    (
        "stripped-signature",
        bearer(lambda k: es256(claims(), k).rsplit(".", 1)[0] + "."),
        "bad_signature",
    ),
    (
        "tampered-payload",
        bearer(lambda k: replace_payload(es256(claims(), k), claims(sub="someone-else@egov"))),
        "bad_signature",
    ),
    (
        "tampered-signature",
        bearer(lambda k: flip_signature_byte(es256(claims(), k))),
        "bad_signature",
    ),
    ("missing-exp", bearer(lambda k: es256(claims(drop=("exp",)), k)), "missing_claim"),
    (
        "expired",
        bearer(lambda k: es256(claims(iat=NOW_TS - 9000, nbf=NOW_TS - 9000, exp=NOW_TS - 8100), k)),
        "expired",
    ),
    (
        "nbf-in-future",
        bearer(lambda k: es256(claims(nbf=NOW_TS + LEEWAY_SECONDS + 60), k)),
        "not_yet_valid",
    ),
    ("missing-aud", bearer(lambda k: es256(claims(drop=("aud",)), k)), "missing_claim"),
    ("wrong-aud", bearer(lambda k: es256(claims(aud="another-service"), k)), "bad_audience"),
    ("missing-iss", bearer(lambda k: es256(claims(drop=("iss",)), k)), "missing_claim"),
    (
        "wrong-iss",
        bearer(lambda k: es256(claims(iss="https://attacker.example"), k)),
        "bad_issuer",
    ),
    ("unknown-kid", bearer(lambda k: es256(claims(), k, kid="someone-else")), "unknown_kid"),
    ("crit-header", bearer(lambda k: es256(claims(), k, crit=["exp"])), "forbidden_header"),
    (
        "jku-header",
        bearer(lambda k: es256(claims(), k, jku="https://attacker.example/jwks.json")),
        "forbidden_header",
    ),
    (
        "x5u-header",
        bearer(lambda k: es256(claims(), k, x5u="https://attacker.example/cert.pem")),
        "forbidden_header",
    ),
    (
        "jwk-header",
        bearer(
            lambda k: es256(claims(), k, jwk={"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"})
        ),
        "forbidden_header",
    ),
    (
        "lifetime-above-bound",
        bearer(
            lambda k: es256(
                claims(iat=NOW_TS, nbf=NOW_TS, exp=NOW_TS + MAX_LIFETIME_SECONDS + 1), k
            )
        ),
        "lifetime_too_long",
    ),
    (
        "oversized-token",
        bearer(lambda k: es256(claims(padding="A" * (MAX_TOKEN_BYTES + 1)), k)),
        "too_large",
    ),
]


# --- harness ---------------------------------------------------------------------------------


@pytest.fixture
def json_logs(capfd: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    configure_logging(json_output=True)
    yield capfd
    structlog.reset_defaults()
    configure_logging(json_output=True)


def _log_events(captured: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for line in captured.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            events.append(value)
    return events


def _secret_of(headers: dict[str, str]) -> str | None:
    value = headers.get("Authorization")
    return value.split(" ", 1)[1] if value else None


def _assert_problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    return problem


def _assert_never_leaked(secret: str | None, response: Response, logged: str) -> None:
    if secret is None:
        return
    for text in (response.text, str(dict(response.headers)), logged):
        assert secret not in text
        for part in secret.split("."):
            if len(part) >= 16:
                assert part not in text


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [pytest.param(make, reason, id=name) for name, make, reason in ATTACKS],
)
def test_attack_token_is_refused_with_401_and_a_logged_reason(
    client: TestClient,
    keys: Keys,
    json_logs: pytest.CaptureFixture[str],
    make_headers: HeaderFactory,
    reason: str,
) -> None:
    headers = make_headers(keys)
    secret = _secret_of(headers)
    if secret is not None and reason == "too_large":
        assert len(secret.encode()) > MAX_TOKEN_BYTES
    json_logs.readouterr()  # only this request's lines

    response = client.post(PATH, json=BODY, headers=headers)

    out, err = json_logs.readouterr()
    _assert_problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"].startswith("Bearer")
    rejections = [e for e in _log_events(err) if e.get("event") == "security.token.rejected"]
    assert [e.get("reason") for e in rejections] == [reason]
    _assert_never_leaked(secret, response, out + err)


def test_valid_token_without_a_deciding_role_is_refused_with_403(
    client: TestClient, keys: Keys, json_logs: pytest.CaptureFixture[str]
) -> None:
    auditor = token(keys, Role.AUDITOR, subject="auditor@cec")
    json_logs.readouterr()

    response = client.post(PATH, json=BODY, headers={"Authorization": f"Bearer {auditor}"})

    out, err = json_logs.readouterr()
    _assert_problem(response, 403, "FORBIDDEN")
    events = _log_events(err)
    refusals = [e for e in events if e.get("event") == "security.role.refused"]
    assert len(refusals) == 1
    assert refusals[0].get("sub") == "auditor@cec"
    assert not [e for e in events if e.get("event") == "security.token.rejected"]
    _assert_never_leaked(auditor, response, out + err)


@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [pytest.param(make, reason, id=name) for name, make, reason in ATTACKS],
)
def test_a_refused_token_is_told_why_in_the_problem_and_the_bearer_challenge(
    client: TestClient, keys: Keys, make_headers: HeaderFactory, reason: str
) -> None:
    headers = make_headers(keys)

    response = client.post(PATH, json=BODY, headers={**headers, "Accept-Language": "ru"})

    problem = _assert_problem(response, 401, "UNAUTHENTICATED")
    assert problem["reason"] == reason
    assert problem["detail"] == "Требуется действительный токен доступа."
    challenge = response.headers["www-authenticate"]
    if reason == "missing":
        # RFC 6750 §3.1: no error code when the request carried no bearer token at all.
        assert challenge == 'Bearer realm="voter-eligibility"'
    else:
        assert challenge == (
            'Bearer realm="voter-eligibility", error="invalid_token", '
            f'error_description="token refused: {reason.replace("_", " ")}"'
        )
    _assert_never_leaked(_secret_of(headers), response, "")


def test_a_token_whose_subject_holds_an_iin_is_told_so_without_the_iin(
    client: TestClient, keys: Keys
) -> None:
    iin = PEOPLE["under_18"]["iin"]
    bearer_token = token(keys, Role.EGOV, subject=f"clerk-{iin}")

    response = client.post(PATH, json=BODY, headers={"Authorization": f"Bearer {bearer_token}"})

    assert _assert_problem(response, 401, "UNAUTHENTICATED")["reason"] == "subject_holds_iin"
    assert iin not in response.text
    assert iin not in str(dict(response.headers))
