"""Bearer-token verification against the attacks SPEC §12 names.

Hostile tokens are built by hand (base64url, hmac, raw ECDSA/RSA signatures) rather than with
python-jose, so a test never depends on the library under test agreeing to produce the attack.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from service.security import (
    REASONS,
    Caller,
    Role,
    TokenRejected,
    TokenVerifier,
    generate_dev_keypair,
    mint_token,
    public_key_from_private,
)
from service.security import tokens as tokens_module
from tests.jwt_crafting import (
    b64url,
    es256_signature,
    flip_signature_byte,
    replace_payload,
    segment,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())
ISSUER = "https://idp.egov.example.kz"
AUDIENCE = "voter-eligibility"
SUBJECT = "880101300123"  # shaped like an IIN: it must never surface in an error
EC_KID = "ec-2025"
RSA_KID = "rsa-2025"
LEEWAY_SECONDS = 30
MAX_LIFETIME_SECONDS = 3600


@dataclass(frozen=True)
class Keys:
    ec_private: ec.EllipticCurvePrivateKey
    rsa_private: rsa.RSAPrivateKey

    @property
    def ec_private_pem(self) -> str:
        return _private_pem(self.ec_private)

    @property
    def rsa_private_pem(self) -> str:
        return _private_pem(self.rsa_private)

    @property
    def ec_public_pem(self) -> str:
        return _public_pem(self.ec_private)

    @property
    def rsa_public_pem(self) -> str:
        return _public_pem(self.rsa_private)


def _private_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(
        ec_private=ec.generate_private_key(ec.SECP256R1()),
        rsa_private=rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture(scope="module")
def verifier(keys: Keys) -> TokenVerifier:
    return TokenVerifier(
        public_keys={EC_KID: keys.ec_public_pem, RSA_KID: keys.rsa_public_pem},
        issuer=ISSUER,
        audience=AUDIENCE,
        max_lifetime_seconds=MAX_LIFETIME_SECONDS,
        leeway_seconds=LEEWAY_SECONDS,
    )


# --- hand-made tokens -------------------------------------------------------------------------


def claims(*, drop: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "jti": "7d1f4c1e-0000-4000-8000-000000000001",
        "iat": NOW_TS - 60,
        "nbf": NOW_TS - 60,
        "exp": NOW_TS + 840,
        "sub": SUBJECT,
        "roles": ["commission"],
        "aud": AUDIENCE,
        "iss": ISSUER,
    }
    base.update(overrides)
    for name in drop:
        del base[name]
    return base


def rs256_signature(signing_input: str, key: rsa.RSAPrivateKey) -> bytes:
    return key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())


def signed_raw(
    header: dict[str, Any],
    payload: bytes,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
) -> str:
    """A token whose signature is genuinely valid for `key`, whatever the header claims."""
    signing_input = f"{segment(header)}.{b64url(payload)}"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = es256_signature(signing_input, key)
    else:
        signature = rs256_signature(signing_input, key)
    return f"{signing_input}.{b64url(signature)}"


def signed(
    header: dict[str, Any],
    payload: dict[str, Any],
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
) -> str:
    return signed_raw(header, json.dumps(payload, separators=(",", ":")).encode(), key)


def es256(payload: dict[str, Any], keys: Keys, **header: Any) -> str:
    return signed({"alg": "ES256", "typ": "JWT", "kid": EC_KID, **header}, payload, keys.ec_private)


def hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def public_der(keys: Keys) -> bytes:
    return keys.ec_private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- accepted tokens --------------------------------------------------------------------------


def test_es256_token_minted_with_the_ec_key_verifies_to_its_caller(
    keys: Keys, verifier: TokenVerifier
) -> None:
    token = mint_token(
        private_key_pem=keys.ec_private_pem,
        kid=EC_KID,
        subject=SUBJECT,
        roles=[Role.COMMISSION, Role.AUDITOR],
        issuer=ISSUER,
        audience=AUDIENCE,
        now=NOW,
    )

    caller = verifier.verify(token, now=NOW)

    assert caller.subject == SUBJECT
    assert caller.roles == frozenset({Role.COMMISSION, Role.AUDITOR})
    assert caller.token_id is not None
    assert uuid.UUID(caller.token_id).version == 4


def test_rs256_token_minted_with_the_rsa_key_verifies_to_its_caller(
    keys: Keys, verifier: TokenVerifier
) -> None:
    token = mint_token(
        private_key_pem=keys.rsa_private_pem,
        kid=RSA_KID,
        subject="operator-7",
        roles=[Role.OPERATOR],
        issuer=ISSUER,
        audience=AUDIENCE,
        now=NOW,
    )

    caller = verifier.verify(token, now=NOW + timedelta(minutes=5))

    assert caller == Caller(
        subject="operator-7", roles=frozenset({Role.OPERATOR}), token_id=caller.token_id
    )
    assert caller.token_id is not None


def test_unknown_role_strings_are_ignored(keys: Keys, verifier: TokenVerifier) -> None:
    token = es256(claims(roles=["egov", "superuser", "EGOV"]), keys)

    assert verifier.verify(token, now=NOW).roles == frozenset({Role.EGOV})


def test_token_without_roles_claim_gives_a_caller_with_no_roles(
    keys: Keys, verifier: TokenVerifier
) -> None:
    caller = verifier.verify(es256(claims(drop=("roles", "jti")), keys), now=NOW)

    assert caller.roles == frozenset()
    assert caller.token_id is None


def test_the_precincts_claim_names_the_precincts_a_commission_member_serves(
    keys: Keys, verifier: TokenVerifier
) -> None:
    token = mint_token(
        private_key_pem=keys.ec_private_pem,
        kid=EC_KID,
        subject="member@pec",
        roles=[Role.COMMISSION],
        issuer=ISSUER,
        audience=AUDIENCE,
        now=NOW,
        precincts=["75-0002", "75-0001"],
    )

    caller = verifier.verify(token, now=NOW)

    assert caller.precincts == frozenset({"75-0001", "75-0002"})
    assert caller.serves("75-0001")
    assert not caller.serves("75-0003")


def test_a_token_without_the_precincts_claim_serves_no_precinct(
    keys: Keys, verifier: TokenVerifier
) -> None:
    caller = verifier.verify(es256(claims(roles=["commission"]), keys), now=NOW)

    assert caller.precincts == frozenset()
    assert not caller.serves("75-0001")


def test_only_a_commission_member_serves_the_precincts_a_token_names(
    keys: Keys, verifier: TokenVerifier
) -> None:
    token = es256(claims(roles=["egov"], precincts=["75-0001"]), keys)

    assert not verifier.verify(token, now=NOW).serves("75-0001")


def test_minting_refuses_a_precinct_id_the_verifier_would_refuse(keys: Keys) -> None:
    with pytest.raises(ValueError, match="precinct ids are 1-32 letters, digits or hyphens"):
        mint_token(
            private_key_pem=keys.ec_private_pem,
            kid=EC_KID,
            subject="member@pec",
            roles=[Role.COMMISSION],
            issuer=ISSUER,
            audience=AUDIENCE,
            now=NOW,
            precincts=["75/0001"],
        )


def test_the_org_claim_names_the_organisation_the_account_acts_for(
    keys: Keys, verifier: TokenVerifier
) -> None:
    minted = mint_token(
        private_key_pem=keys.ec_private_pem,
        kid=EC_KID,
        subject="clerk@egov",
        roles=[Role.EGOV],
        issuer=ISSUER,
        audience=AUDIENCE,
        now=NOW,
        organisation="egov",
    )

    assert verifier.verify(minted, now=NOW).organisation == "egov"
    assert verifier.verify(es256(claims(), keys), now=NOW).organisation is None


@pytest.mark.parametrize("org", ["", "Egov", "egov centre", "x" * 65, 7, ["egov"], "-egov"])
def test_a_malformed_org_claim_is_refused(keys: Keys, verifier: TokenVerifier, org: Any) -> None:
    with pytest.raises(TokenRejected) as refused:
        verifier.verify(es256(claims(org=org), keys), now=NOW)

    assert refused.value.reason == "bad_claim"


def test_minting_refuses_an_organisation_id_the_verifier_would_refuse(keys: Keys) -> None:
    with pytest.raises(ValueError, match="an organisation id is 1-64 lower-case letters"):
        mint_token(
            private_key_pem=keys.ec_private_pem,
            kid=EC_KID,
            subject="clerk@egov",
            roles=[Role.EGOV],
            issuer=ISSUER,
            audience=AUDIENCE,
            now=NOW,
            organisation="Government for Citizens",
        )


def test_audience_may_be_a_list_that_contains_ours(keys: Keys, verifier: TokenVerifier) -> None:
    token = es256(claims(aud=["another-service", AUDIENCE]), keys)

    assert verifier.verify(token, now=NOW).subject == SUBJECT


def test_token_expired_within_the_leeway_is_still_accepted(
    keys: Keys, verifier: TokenVerifier
) -> None:
    token = es256(claims(iat=NOW_TS - 900, nbf=NOW_TS - 900, exp=NOW_TS - 10), keys)

    assert verifier.verify(token, now=NOW).subject == SUBJECT


def test_lifetime_exactly_at_the_bound_is_accepted(keys: Keys, verifier: TokenVerifier) -> None:
    token = es256(claims(iat=NOW_TS, nbf=NOW_TS, exp=NOW_TS + MAX_LIFETIME_SECONDS), keys)

    assert verifier.verify(token, now=NOW).subject == SUBJECT


@pytest.mark.parametrize(
    "instant",
    [datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC), datetime(2061, 7, 28, 9, 0, tzinfo=UTC)],
    ids=["long-past", "far-future"],
)
def test_time_is_judged_by_the_injected_clock_not_the_wall_clock(
    keys: Keys, verifier: TokenVerifier, instant: datetime
) -> None:
    token = mint_token(
        private_key_pem=keys.ec_private_pem,
        kid=EC_KID,
        subject=SUBJECT,
        roles=[Role.EGOV],
        issuer=ISSUER,
        audience=AUDIENCE,
        now=instant,
    )

    assert verifier.verify(token, now=instant).roles == frozenset({Role.EGOV})
    with pytest.raises(TokenRejected) as rejected:
        verifier.verify(token, now=instant + timedelta(hours=1))
    assert rejected.value.reason == "expired"


# --- rejected tokens --------------------------------------------------------------------------

TokenFactory = Callable[[Keys], str]

REJECTIONS: list[tuple[str, TokenFactory, str]] = [
    ("empty", lambda k: "", "malformed"),
    ("garbage", lambda k: "not-a-token", "malformed"),
    ("two-segments", lambda k: f"{segment({'alg': 'ES256'})}.{segment(claims())}", "malformed"),
    ("four-segments", lambda k: es256(claims(), k) + ".AAAA", "malformed"),
    ("header-not-base64url", lambda k: "e+J9." + es256(claims(), k).split(".", 1)[1], "malformed"),
    ("header-not-json", lambda k: b64url(b"{alg") + "." + segment(claims()) + ".", "malformed"),
    ("header-is-array", lambda k: f"{segment(['ES256'])}.{segment(claims())}.", "malformed"),
    (
        "header-duplicate-alg",
        lambda k: (
            b64url(f'{{"alg":"ES256","kid":"{EC_KID}","alg":"HS256"}}'.encode())
            + "."
            + segment(claims())
            + "."
        ),
        "malformed",
    ),
    (
        "payload-with-nan",
        lambda k: signed_raw(
            {"alg": "ES256", "kid": EC_KID},
            json.dumps(claims(exp=float("nan"))).encode(),
            k.ec_private,
        ),
        "malformed",
    ),
    (
        "payload-not-an-object",
        lambda k: signed_raw({"alg": "ES256", "kid": EC_KID}, b"[1, 2]", k.ec_private),
        "malformed",
    ),
    (
        "alg-none",
        lambda k: f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': EC_KID})}.{segment(claims())}.",
        "algorithm_not_allowed",
    ),
    (
        "alg-None-capitalised",
        lambda k: f"{segment({'alg': 'None', 'kid': EC_KID})}.{segment(claims())}.",
        "algorithm_not_allowed",
    ),
    (
        "alg-missing",
        lambda k: signed({"kid": EC_KID}, claims(), k.ec_private),
        "algorithm_not_allowed",
    ),
    (
        "hs256-with-public-pem-as-secret",
        lambda k: hs256(
            {"alg": "HS256", "typ": "JWT", "kid": EC_KID}, claims(), k.ec_public_pem.encode()
        ),
        "algorithm_not_allowed",
    ),
    (
        "hs256-with-public-der-as-secret",
        lambda k: hs256({"alg": "HS256", "typ": "JWT", "kid": EC_KID}, claims(), public_der(k)),
        "algorithm_not_allowed",
    ),
    (
        "hs256-with-rsa-public-pem-as-secret",
        lambda k: hs256({"alg": "HS256", "kid": RSA_KID}, claims(), k.rsa_public_pem.encode()),
        "algorithm_not_allowed",
    ),
    (
        "es384-not-in-allowlist",
        lambda k: signed({"alg": "ES384", "kid": EC_KID}, claims(), k.ec_private),
        "algorithm_not_allowed",
    ),
    (
        "rs256-header-on-ec-key",
        lambda k: signed({"alg": "RS256", "kid": EC_KID}, claims(), k.rsa_private),
        "algorithm_not_allowed",
    ),
    (
        "es256-header-on-rsa-key",
        lambda k: signed({"alg": "ES256", "kid": RSA_KID}, claims(), k.ec_private),
        "algorithm_not_allowed",
    ),
    ("unknown-kid", lambda k: es256(claims(), k, kid="someone-else"), "unknown_kid"),
    (
        "missing-kid",
        lambda k: signed({"alg": "ES256", "typ": "JWT"}, claims(), k.ec_private),
        "unknown_kid",
    ),
    ("kid-not-a-string", lambda k: es256(claims(), k, kid=[EC_KID]), "unknown_kid"),
    ("crit-header", lambda k: es256(claims(), k, crit=["exp"]), "forbidden_header"),
    (
        "jku-header",
        lambda k: es256(claims(), k, jku="https://attacker.example/jwks.json"),
        "forbidden_header",
    ),
    (
        "x5u-header",
        lambda k: es256(claims(), k, x5u="https://attacker.example/cert.pem"),
        "forbidden_header",
    ),
    (
        "jwk-header",
        lambda k: es256(claims(), k, jwk={"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
        "forbidden_header",
    ),
    ("x5c-header", lambda k: es256(claims(), k, x5c=["MIIB"]), "forbidden_header"),
    (
        "stripped-signature",
        lambda k: es256(claims(), k).rsplit(".", 1)[0] + ".",
        "bad_signature",
    ),
    (
        "tampered-payload",
        lambda k: replace_payload(es256(claims(), k), claims(sub="990101300456")),
        "bad_signature",
    ),
    (
        "tampered-roles",
        lambda k: replace_payload(es256(claims(), k), claims(roles=["operator", "auditor"])),
        "bad_signature",
    ),
    ("tampered-signature", lambda k: flip_signature_byte(es256(claims(), k)), "bad_signature"),
    (
        "signed-by-an-untrusted-key-under-a-trusted-kid",
        lambda k: signed(
            {"alg": "ES256", "kid": EC_KID}, claims(), ec.generate_private_key(ec.SECP256R1())
        ),
        "bad_signature",
    ),
    ("missing-exp", lambda k: es256(claims(drop=("exp",)), k), "missing_claim"),
    ("missing-iat", lambda k: es256(claims(drop=("iat",)), k), "missing_claim"),
    ("missing-aud", lambda k: es256(claims(drop=("aud",)), k), "missing_claim"),
    ("missing-iss", lambda k: es256(claims(drop=("iss",)), k), "missing_claim"),
    ("missing-sub", lambda k: es256(claims(drop=("sub",)), k), "missing_claim"),
    ("exp-not-a-number", lambda k: es256(claims(exp=str(NOW_TS + 600)), k), "bad_claim"),
    ("exp-boolean", lambda k: es256(claims(exp=True), k), "bad_claim"),
    ("exp-before-iat", lambda k: es256(claims(exp=NOW_TS - 61), k), "bad_claim"),
    ("sub-empty", lambda k: es256(claims(sub=""), k), "bad_claim"),
    ("sub-not-a-string", lambda k: es256(claims(sub=880101300123), k), "bad_claim"),
    ("jti-not-a-string", lambda k: es256(claims(jti=1), k), "bad_claim"),
    (
        "expired-beyond-leeway",
        lambda k: es256(claims(iat=NOW_TS - 900, nbf=NOW_TS - 900, exp=NOW_TS - LEEWAY_SECONDS), k),
        "expired",
    ),
    (
        "expired-long-ago",
        lambda k: es256(claims(iat=NOW_TS - 9000, nbf=NOW_TS - 9000, exp=NOW_TS - 8100), k),
        "expired",
    ),
    (
        "nbf-in-future",
        lambda k: es256(claims(nbf=NOW_TS + LEEWAY_SECONDS + 60), k),
        "not_yet_valid",
    ),
    (
        "iat-in-future",
        lambda k: es256(claims(iat=NOW_TS + LEEWAY_SECONDS + 60, nbf=NOW_TS, exp=NOW_TS + 900), k),
        "issued_in_future",
    ),
    ("wrong-aud", lambda k: es256(claims(aud="another-service"), k), "bad_audience"),
    (
        "aud-list-without-ours",
        lambda k: es256(claims(aud=["another-service", "a-third"]), k),
        "bad_audience",
    ),
    ("aud-not-a-string", lambda k: es256(claims(aud={"v": AUDIENCE}), k), "bad_audience"),
    ("wrong-iss", lambda k: es256(claims(iss="https://attacker.example"), k), "bad_issuer"),
    (
        "lifetime-above-bound",
        lambda k: es256(claims(iat=NOW_TS, nbf=NOW_TS, exp=NOW_TS + MAX_LIFETIME_SECONDS + 1), k),
        "lifetime_too_long",
    ),
    ("exp-beyond-float-range", lambda k: es256(claims(exp=10**400), k), "bad_claim"),
    (
        "exp-infinite",
        lambda k: signed_raw(
            {"alg": "ES256", "kid": EC_KID},
            json.dumps(claims()).replace(f'"exp": {NOW_TS + 840}', '"exp": 1e400').encode(),
            k.ec_private,
        ),
        "bad_claim",
    ),
    (
        "oversized-but-properly-signed",
        lambda k: es256(claims(padding="A" * 9000), k),
        "too_large",
    ),
    ("oversized-garbage", lambda k: "x" * 100_000, "too_large"),
    ("oversized-in-bytes-not-characters", lambda k: "ж" * 5000, "too_large"),
    ("roles-a-string", lambda k: es256(claims(roles="operator"), k), "bad_roles"),
    ("roles-an-object", lambda k: es256(claims(roles={"operator": True}), k), "bad_roles"),
    ("roles-with-non-string", lambda k: es256(claims(roles=["egov", 1]), k), "bad_roles"),
    ("precincts-a-string", lambda k: es256(claims(precincts="75-0001"), k), "bad_claim"),
    ("precincts-with-non-id", lambda k: es256(claims(precincts=["75 0001"]), k), "bad_claim"),
    ("precincts-too-many", lambda k: es256(claims(precincts=["1"] * 101), k), "bad_claim"),
]


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [pytest.param(make, reason, id=name) for name, make, reason in REJECTIONS],
)
def test_hostile_or_invalid_token_is_rejected_with_a_stable_reason(
    keys: Keys, verifier: TokenVerifier, make_token: TokenFactory, reason: str
) -> None:
    token = make_token(keys)

    with pytest.raises(TokenRejected) as rejected:
        verifier.verify(token, now=NOW)

    assert rejected.value.reason == reason
    assert reason in REASONS


@pytest.mark.parametrize(
    "make_token",
    [pytest.param(make, id=name) for name, make, _ in REJECTIONS],
)
def test_rejection_never_carries_the_token_or_the_subject(
    keys: Keys, verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    token = make_token(keys)

    with pytest.raises(TokenRejected) as rejected:
        verifier.verify(token, now=NOW)

    error = rejected.value
    rendered = f"{error} {error!r} {error.args}"
    assert SUBJECT not in rendered
    for part in token.split("."):
        if len(part) >= 8:
            assert part not in rendered
    # A chained jose exception would be printed with the traceback, so none may be attached.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_python_jose_still_rejects_a_wrong_audience_if_our_own_check_is_bypassed(
    keys: Keys, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens_module, "_check_audience", lambda aud, expected: None)
    token = es256(claims(aud="another-service"), keys)

    with pytest.raises(TokenRejected) as rejected:
        verifier.verify(token, now=NOW)

    assert rejected.value.reason == "bad_claim"


def test_python_jose_still_rejects_a_wrong_issuer_if_our_own_check_is_bypassed(
    keys: Keys, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens_module, "_check_issuer", lambda iss, expected: None)
    token = es256(claims(iss="https://attacker.example"), keys)

    with pytest.raises(TokenRejected) as rejected:
        verifier.verify(token, now=NOW)

    assert rejected.value.reason == "bad_claim"


def test_a_naive_now_is_a_programming_error_not_a_rejection(
    keys: Keys, verifier: TokenVerifier
) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verifier.verify(es256(claims(), keys), now=NOW.replace(tzinfo=None))


# --- key configuration ------------------------------------------------------------------------


def test_invalid_pem_is_refused_at_construction_naming_the_kid_not_the_key() -> None:
    bogus = (
        "-----BEGIN PUBLIC KEY-----\nTm90QUtleUF0QWxsU2VjcmV0Qnl0ZXM=\n-----END PUBLIC KEY-----\n"
    )

    with pytest.raises(ValueError, match="broken-kid") as refused:
        TokenVerifier(public_keys={"broken-kid": bogus}, issuer=ISSUER, audience=AUDIENCE)

    assert "Tm90QUtleUF0" not in str(refused.value)
    assert refused.value.__cause__ is None


def test_private_key_configured_as_a_public_key_is_refused_without_echoing_it(
    keys: Keys,
) -> None:
    private_pem = keys.ec_private_pem
    body_line = private_pem.splitlines()[1]

    with pytest.raises(ValueError, match="leaked-kid") as refused:
        TokenVerifier(public_keys={"leaked-kid": private_pem}, issuer=ISSUER, audience=AUDIENCE)

    assert body_line not in str(refused.value)


@pytest.mark.parametrize(
    "make_key",
    [
        pytest.param(lambda: rsa.generate_private_key(65537, 1024), id="rsa-1024"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP384R1()), id="ec-p384"),
        pytest.param(ed25519.Ed25519PrivateKey.generate, id="ed25519"),
    ],
)
def test_keys_outside_the_two_allowed_types_are_refused_at_construction(
    make_key: Callable[[], Any],
) -> None:
    with pytest.raises(ValueError, match="weak-kid"):
        TokenVerifier(
            public_keys={"weak-kid": _public_pem(make_key())}, issuer=ISSUER, audience=AUDIENCE
        )


def test_a_verifier_without_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TokenVerifier(public_keys={}, issuer=ISSUER, audience=AUDIENCE)


# --- minting and dev keys ---------------------------------------------------------------------


def _decoded(part: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


@pytest.mark.parametrize(
    ("pem_of", "kid", "alg"),
    [
        pytest.param(lambda k: k.ec_private_pem, EC_KID, "ES256", id="ec"),
        pytest.param(lambda k: k.rsa_private_pem, RSA_KID, "RS256", id="rsa"),
    ],
)
def test_minted_token_carries_the_algorithm_of_its_key_and_every_required_claim(
    keys: Keys, pem_of: Callable[[Keys], str], kid: str, alg: str
) -> None:
    token = mint_token(
        private_key_pem=pem_of(keys),
        kid=kid,
        subject=SUBJECT,
        roles=[Role.EGOV],
        issuer=ISSUER,
        audience=AUDIENCE,
        now=NOW,
    )
    header_part, payload_part, _ = token.split(".")

    header, payload = _decoded(header_part), _decoded(payload_part)

    assert header["alg"] == alg
    assert header["kid"] == kid
    assert payload["iat"] == payload["nbf"] == NOW_TS
    assert payload["exp"] == NOW_TS + 900
    assert (payload["sub"], payload["aud"], payload["iss"]) == (SUBJECT, AUDIENCE, ISSUER)
    assert payload["roles"] == ["egov"]
    assert uuid.UUID(payload["jti"]).version == 4


def test_each_minted_token_has_its_own_jti(keys: Keys) -> None:
    def mint() -> str:
        token = mint_token(
            private_key_pem=keys.ec_private_pem,
            kid=EC_KID,
            subject=SUBJECT,
            roles=[],
            issuer=ISSUER,
            audience=AUDIENCE,
            now=NOW,
        )
        jti: str = _decoded(token.split(".")[1])["jti"]
        return jti

    assert mint() != mint()


def test_minting_with_a_p384_key_is_refused() -> None:
    pem = _private_pem(ec.generate_private_key(ec.SECP384R1()))

    with pytest.raises(ValueError, match="P-256"):
        mint_token(
            private_key_pem=pem,
            kid="k",
            subject=SUBJECT,
            roles=[],
            issuer=ISSUER,
            audience=AUDIENCE,
            now=NOW,
        )


def test_dev_keypair_is_a_p256_pair_whose_tokens_verify() -> None:
    private_pem, public_pem = generate_dev_keypair()

    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    public_key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert isinstance(public_key.curve, ec.SECP256R1)
    assert public_key_from_private(private_pem) == public_pem

    verifier = TokenVerifier(public_keys={"dev": public_pem}, issuer=ISSUER, audience=AUDIENCE)
    token = mint_token(
        private_key_pem=private_pem,
        kid="dev",
        subject=SUBJECT,
        roles=[Role.OPERATOR],
        issuer=ISSUER,
        audience=AUDIENCE,
        now=NOW,
    )
    assert verifier.verify(token, now=NOW).roles == frozenset({Role.OPERATOR})


def test_public_key_from_private_refuses_garbage_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="PEM private key") as refused:
        public_key_from_private("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----")

    assert "c2VjcmV0" not in str(refused.value)


@pytest.mark.parametrize("subject", ["clerk\x00@egov", "clerk\n@egov", "x" * 201])
def test_subject_with_control_characters_or_too_long_is_refused(
    keys: Keys, verifier: TokenVerifier, subject: str
) -> None:
    # The subject becomes the actor of audited actions; it must be storable, printable text.
    token = mint_token(
        private_key_pem=keys.ec_private_pem,
        kid=EC_KID,
        subject=subject,
        roles=[Role.EGOV],
        issuer=ISSUER,
        audience=AUDIENCE,
        now=NOW,
    )
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token, now=NOW)
    assert caught.value.reason == "bad_claim"


# --- remembered verifications ----------------------------------------------------------------


def test_a_remembered_token_still_expires(keys: Keys, verifier: TokenVerifier) -> None:
    token = es256(claims(iat=NOW_TS, nbf=NOW_TS, exp=NOW_TS + 600), keys)
    assert verifier.verify(token, now=NOW).subject == SUBJECT

    later = NOW + timedelta(seconds=600 + LEEWAY_SECONDS)
    with pytest.raises(TokenRejected) as rejected:
        verifier.verify(token, now=later)
    assert rejected.value.reason == "expired"


def test_a_token_not_yet_valid_is_accepted_once_its_time_comes(
    keys: Keys, verifier: TokenVerifier
) -> None:
    starts = NOW_TS + 300
    token = es256(claims(iat=NOW_TS, nbf=starts, exp=starts + 600), keys)
    with pytest.raises(TokenRejected):
        verifier.verify(token, now=NOW)

    assert verifier.verify(token, now=NOW + timedelta(seconds=300)).subject == SUBJECT


def test_a_remembered_token_with_one_bit_changed_is_verified_afresh_and_refused(
    keys: Keys, verifier: TokenVerifier
) -> None:
    token = es256(claims(), keys)
    verifier.verify(token, now=NOW)

    with pytest.raises(TokenRejected) as rejected:
        verifier.verify(flip_signature_byte(token), now=NOW)
    assert rejected.value.reason == "bad_signature"
    forged = replace_payload(token, claims(roles=["operator"]))
    with pytest.raises(TokenRejected):
        verifier.verify(forged, now=NOW)


def test_remembered_tokens_are_bounded_and_the_forgotten_still_verify(
    keys: Keys, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens_module, "VERIFIED_TOKENS_KEPT", 3)
    tokens = [es256(claims(sub=f"account-{n}"), keys) for n in range(5)]
    for token in tokens:
        verifier.verify(token, now=NOW)

    assert len(verifier._verified) == 3
    assert [verifier.verify(t, now=NOW).subject for t in tokens] == [
        f"account-{n}" for n in range(5)
    ]
