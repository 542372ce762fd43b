"""Bearer tokens (SPEC §12): the only module that touches python-jose.

Verification is layered. The header is parsed and judged by this module before python-jose sees
the token, because python-jose trusts the header's ``alg`` to choose how a key is used. The
signature is then checked by python-jose with a single permitted algorithm, the claims are
checked here against the injected clock, and python-jose checks ``aud``, ``iss`` and ``sub``
once more as an independent second layer.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jose import jwk, jws, jwt  # type: ignore[import-untyped]
from jose.exceptions import JOSEError  # type: ignore[import-untyped]

from service.domain.caller import Caller, Role

ES256: Final = "ES256"
RS256: Final = "RS256"
MIN_RSA_KEY_BITS: Final = 2048
FORBIDDEN_HEADERS: Final = frozenset({"crit", "jku", "x5u", "jwk", "x5c"})
REQUIRED_CLAIMS: Final = ("exp", "iat", "aud", "iss", "sub")

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")

# python-jose's require_exp/require_iat/require_nbf silently switch the matching verify_* back
# on, and those compare against the wall clock; so only aud/iss/sub are required from jose and
# every time claim is checked here against the injected `now`.
_JOSE_OPTIONS: Final[Mapping[str, bool | int]] = {
    "verify_signature": True,
    "verify_aud": True,
    "verify_iss": True,
    "verify_sub": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "require_aud": True,
    "require_iss": True,
    "require_sub": True,
    "leeway": 0,
}

Reason = Literal[
    "malformed",
    "too_large",
    "algorithm_not_allowed",
    "unknown_kid",
    "forbidden_header",
    "bad_signature",
    "missing_claim",
    "bad_claim",
    "bad_audience",
    "bad_issuer",
    "expired",
    "not_yet_valid",
    "issued_in_future",
    "lifetime_too_long",
    "bad_roles",
]
REASONS: Final[frozenset[str]] = frozenset(get_args(Reason))


class TokenRejected(Exception):
    """The token is not acceptable. ``reason`` is a stable code from ``REASONS``.

    The message is derived from the reason alone, so neither the token nor any claim (a subject
    may be an IIN) can reach a log line or a response through it.
    """

    def __init__(self, reason: Reason) -> None:
        super().__init__(f"token rejected: {reason}")
        self.reason: str = reason


@dataclass(frozen=True)
class _TrustedKey:
    algorithm: str
    jose_key: Any


# Distinct verified tokens remembered per process: a few thousand accounts' current tokens.
VERIFIED_TOKENS_KEPT = 4096


class TokenVerifier:
    def __init__(
        self,
        *,
        public_keys: Mapping[str, str],
        issuer: str,
        audience: str,
        max_lifetime_seconds: int = 3600,
        leeway_seconds: int = 30,
        max_token_bytes: int = 8192,
    ) -> None:
        if not public_keys:
            raise ValueError("at least one public key is required")
        if not issuer or not audience:
            raise ValueError("issuer and audience must be non-empty")
        if max_lifetime_seconds <= 0 or leeway_seconds < 0 or max_token_bytes <= 0:
            raise ValueError("token bounds must be positive")
        self._keys = {kid: _load_trusted_key(kid, pem) for kid, pem in public_keys.items()}
        self._issuer = issuer
        self._audience = audience
        self._max_lifetime_seconds = max_lifetime_seconds
        self._leeway_seconds = leeway_seconds
        self._max_token_bytes = max_token_bytes
        # Token -> its claims, for tokens whose signature and static claims already verified.
        self._verified: dict[str, dict[str, Any]] = {}

    def verify(self, token: str, *, now: datetime) -> Caller:
        """The caller a token names, or TokenRejected.

        A front end sends the same token with every request until it expires, and checking
        its signature twice (ours, then jose's) is most of the cost of a request. So the
        claims of a token that passed every check are remembered, keyed by the whole token:
        any other string, one changed bit included, is verified from scratch. The claims
        that depend on the time (expiry, not-before) are checked again on every request.
        """
        instant = _timestamp(now)
        self._check_size(token)
        claims = self._verified.get(token)
        if claims is None:
            header = self._parse_header(token)
            key = self._select_key(header)
            claims = _verified_claims(token, key)
            self._check_claims(claims, now=instant)
            self._check_with_jose(token, key)
            self._remember(token, claims)
        else:
            self._check_claims(claims, now=instant)
        return Caller(
            subject=claims["sub"],
            roles=_roles(claims.get("roles", [])),
            token_id=claims.get("jti"),
            precincts=_precincts(claims.get("precincts", [])),
            organisation=_organisation(claims.get("org")),
        )

    def _remember(self, token: str, claims: dict[str, Any]) -> None:
        while len(self._verified) >= VERIFIED_TOKENS_KEPT:
            # Oldest first (dicts keep insertion order): bounded memory whatever the traffic.
            del self._verified[next(iter(self._verified))]
        self._verified[token] = claims

    def _check_size(self, token: str) -> None:
        # Bound the size before anything else so a hostile token costs no parsing at all;
        # a character count never exceeds the byte count, so the cheap test comes first.
        if not isinstance(token, str) or not token:
            raise TokenRejected("malformed")
        if len(token) > self._max_token_bytes or (
            len(token.encode("utf-8")) > self._max_token_bytes
        ):
            raise TokenRejected("too_large")

    def _parse_header(self, token: str) -> dict[str, Any]:
        segments = token.split(".")
        if len(segments) != 3 or not all(_SEGMENT.fullmatch(s) for s in segments):
            raise TokenRejected("malformed")
        header = _json_object(segments[0])
        if header is None:
            raise TokenRejected("malformed")
        return header

    def _select_key(self, header: Mapping[str, Any]) -> _TrustedKey:
        alg = header.get("alg")
        if alg not in (ES256, RS256):
            raise TokenRejected("algorithm_not_allowed")
        if FORBIDDEN_HEADERS & header.keys():
            raise TokenRejected("forbidden_header")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenRejected("unknown_kid")
        # The key, not the token, decides the algorithm: this is what stops an RS256 key from
        # being used as an HMAC secret or an EC key from being driven with RSA.
        if key.algorithm != alg:
            raise TokenRejected("algorithm_not_allowed")
        return key

    def _check_claims(self, claims: Mapping[str, Any], *, now: float) -> None:
        if any(name not in claims for name in REQUIRED_CLAIMS):
            raise TokenRejected("missing_claim")
        exp = _numeric_date(claims["exp"])
        iat = _numeric_date(claims["iat"])
        nbf = _numeric_date(claims["nbf"]) if "nbf" in claims else None
        if not _is_account_name(claims["sub"]):
            raise TokenRejected("bad_claim")
        if "jti" in claims and not _is_nonempty_str(claims["jti"]):
            raise TokenRejected("bad_claim")
        _check_issuer(claims["iss"], self._issuer)
        _check_audience(claims["aud"], self._audience)

        leeway = self._leeway_seconds
        if iat > now + leeway:
            raise TokenRejected("issued_in_future")
        if exp <= iat:
            raise TokenRejected("bad_claim")
        if exp - iat > self._max_lifetime_seconds:
            raise TokenRejected("lifetime_too_long")
        if now >= exp + leeway:
            raise TokenRejected("expired")
        if nbf is not None and nbf > now + leeway:
            raise TokenRejected("not_yet_valid")

    def _check_with_jose(self, token: str, key: _TrustedKey) -> None:
        # Repeats the signature check (tens of microseconds) because jose.jwt.decode has no
        # claims-only entry point; a disagreement with the checks above is still a rejection.
        try:
            jwt.decode(
                token,
                key.jose_key,
                algorithms=[key.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options=dict(_JOSE_OPTIONS),
            )
        except JOSEError:
            raise TokenRejected("bad_claim") from None


def _verified_claims(token: str, key: _TrustedKey) -> dict[str, Any]:
    try:
        payload = jws.verify(token, key.jose_key, algorithms=[key.algorithm])
    except JOSEError:
        raise TokenRejected("bad_signature") from None
    claims = _json_object_from_bytes(payload)
    if claims is None:
        raise TokenRejected("malformed")
    return claims


def _check_issuer(iss: object, expected: str) -> None:
    if iss != expected:
        raise TokenRejected("bad_issuer")


def _check_audience(aud: object, expected: str) -> None:
    # RFC 7519 §4.1.3: a single string or an array of strings, one of which must be ours.
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise TokenRejected("bad_audience")
    if expected not in audiences:
        raise TokenRejected("bad_audience")


def _roles(value: object) -> frozenset[Role]:
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise TokenRejected("bad_roles")
    # Unknown roles are ignored rather than rejected so an issuer can add roles for other
    # services without breaking this one.
    known = {r.value for r in Role}
    return frozenset(Role(r) for r in value if r in known)


# A precinct id as the precinct directory spells it; a member serves a few precincts at most.
_PRECINCT_ID = re.compile(r"[0-9A-Za-z-]{1,32}")
MAX_PRECINCTS_PER_TOKEN: Final = 100


def _precincts(value: object) -> frozenset[str]:
    if (
        not isinstance(value, list)
        or len(value) > MAX_PRECINCTS_PER_TOKEN
        or not all(isinstance(p, str) and _PRECINCT_ID.fullmatch(p) for p in value)
    ):
        raise TokenRejected("bad_claim")
    return frozenset(value)


# An organisation id from the catalogue's alphabet (service.organisations): short, no spaces.
_ORGANISATION_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def _organisation(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ORGANISATION_ID.fullmatch(value):
        raise TokenRejected("bad_claim")
    return value


def _numeric_date(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRejected("bad_claim")
    try:
        seconds = float(value)
    except OverflowError:
        # JSON integers are unbounded in Python; one past float range cannot be a real date.
        raise TokenRejected("bad_claim") from None
    if not math.isfinite(seconds):
        raise TokenRejected("bad_claim")
    return seconds


def _is_nonempty_str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


MAX_SUBJECT_LENGTH: Final = 200


def _is_account_name(value: object) -> bool:
    # The subject is stored as the actor of audited actions: bounded, printable text only.
    return (
        _is_nonempty_str(value)
        and len(str(value)) <= MAX_SUBJECT_LENGTH
        and str(value).isprintable()
    )


def _timestamp(now: datetime) -> float:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.timestamp()


def _json_object(segment: str) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None
    return _json_object_from_bytes(raw)


def _json_object_from_bytes(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # With duplicate names, which one wins is parser-specific; refusing them means this module
    # and python-jose can never read different headers out of the same bytes.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError("non-finite number")


def _load_trusted_key(kid: str, pem: str) -> _TrustedKey:
    if not kid:
        raise ValueError("key ids must be non-empty")
    try:
        public_key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError):
        # `from None`: the underlying error may quote parts of the key material.
        raise ValueError(f"public key for kid {kid!r} is not a PEM public key") from None
    algorithm = _algorithm_for(public_key)
    if algorithm is None:
        raise ValueError(
            f"public key for kid {kid!r} must be EC P-256 or RSA of at least "
            f"{MIN_RSA_KEY_BITS} bits"
        )
    return _TrustedKey(algorithm=algorithm, jose_key=jwk.construct(public_key, algorithm))


def _algorithm_for(key: object) -> str | None:
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return ES256 if isinstance(key.curve, ec.SECP256R1) else None
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return RS256 if key.key_size >= MIN_RSA_KEY_BITS else None
    return None


def _load_private_key(private_key_pem: str) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(private_key_pem.encode("utf-8"), password=None)
    except (ValueError, TypeError):
        raise ValueError("not an unencrypted PEM private key") from None


def mint_token(
    *,
    private_key_pem: str,
    kid: str,
    subject: str,
    roles: Iterable[Role],
    issuer: str,
    audience: str,
    now: datetime,
    lifetime_seconds: int = 900,
    precincts: Iterable[str] = (),
    organisation: str | None = None,
) -> str:
    """A signed token; ``precincts`` are those a commission member serves (claim left out
    when there are none); ``organisation`` the one the account acts for (claim ``org``)."""
    if lifetime_seconds <= 0:
        raise ValueError("lifetime_seconds must be positive")
    private_key = _load_private_key(private_key_pem)
    algorithm = _algorithm_for(private_key)
    if algorithm is None:
        raise ValueError(f"signing key must be EC P-256 or RSA of at least {MIN_RSA_KEY_BITS} bits")
    issued_at = int(_timestamp(now))
    claims = {
        "jti": str(uuid.uuid4()),
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + lifetime_seconds,
        "sub": subject,
        "roles": sorted(Role(r).value for r in roles),
        "aud": audience,
        "iss": issuer,
    }
    served = sorted(set(precincts))
    if served:
        # A claim the verifier would refuse is refused here, not at the first request.
        try:
            _precincts(served)
        except TokenRejected:
            raise ValueError(
                f"precinct ids are 1-32 letters, digits or hyphens, at most "
                f"{MAX_PRECINCTS_PER_TOKEN} of them"
            ) from None
        claims["precincts"] = served
    if organisation is not None:
        try:
            claims["org"] = _organisation(organisation)
        except TokenRejected:
            raise ValueError(
                "an organisation id is 1-64 lower-case letters, digits or hyphens"
            ) from None
    token = jwt.encode(
        claims,
        jwk.construct(private_key, algorithm),
        algorithm=algorithm,
        headers={"kid": kid},
    )
    return str(token)


def generate_dev_keypair() -> tuple[str, str]:
    """A fresh EC P-256 pair as (PKCS#8 private PEM, SubjectPublicKeyInfo public PEM)."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    private_pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    return private_pem, _public_pem(private_key)


def public_key_from_private(private_key_pem: str) -> str:
    return _public_pem(_load_private_key(private_key_pem))


def _public_pem(private_key: PrivateKeyTypes) -> str:
    return (
        private_key.public_key()
        .public_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode("ascii")
    )
