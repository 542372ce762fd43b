"""Ed25519 keys that sign audit checkpoints.

The key id is derived from the public key itself, so a checkpoint can name the key that
signed it and an observer can check that name against their own copy of the key without
trusting any registry. The key id is part of the signed message.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_ID_HEX_LENGTH = 16


def _key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_HEX_LENGTH]


def generate_signing_key() -> str:
    """A fresh Ed25519 private key as unencrypted PKCS#8 PEM (for VOTER_AUDIT_SIGNING_KEY)."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode("ascii")


def load_signing_key(private_key_pem: str) -> Ed25519PrivateKey:
    """The Ed25519 key of VOTER_AUDIT_SIGNING_KEY (PKCS#8 PEM); ValueError for any other."""
    key = serialization.load_pem_private_key(private_key_pem.encode("ascii"), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the audit signing key must be an Ed25519 private key")
    return key


class CheckpointSigner:
    def __init__(self, private_key_pem: str) -> None:
        key = load_signing_key(private_key_pem)
        self._key = key
        self.key_id = _key_id(key.public_key())
        self.public_key_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """The key itself, for the note signer that signs tlog-checkpoint notes with it."""
        return self._key

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"CheckpointSigner(key_id={self.key_id!r})"


class CheckpointVerifier:
    """Checks signatures against one trusted public key (the observer's own copy)."""

    def __init__(self, public_key_pem: str) -> None:
        key = serialization.load_pem_public_key(public_key_pem.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the audit verification key must be an Ed25519 public key")
        self._key = key
        self.key_id = _key_id(key)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"CheckpointVerifier(key_id={self.key_id!r})"
