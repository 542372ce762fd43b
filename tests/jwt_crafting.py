"""Building JWTs by hand, byte by byte, for the attack tests (unit and over HTTP).

python-jose would refuse to produce most of these tokens, which is the point of them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def es256_signature(signing_input: str, key: ec.EllipticCurvePrivateKey) -> bytes:
    """JWS ES256 signatures are raw r||s (64 bytes), not the DER that cryptography returns."""
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def replace_payload(token: str, payload: dict[str, Any]) -> str:
    """The token with another payload under the original signature."""
    header, _, signature = token.split(".")
    return f"{header}.{segment(payload)}.{signature}"


def flip_signature_byte(token: str) -> str:
    """The token with one bit of its signature flipped."""
    signing_input, signature = token.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0x01
    return f"{signing_input}.{b64url(bytes(raw))}"
