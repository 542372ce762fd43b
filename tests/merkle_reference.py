"""An independent reference for the transparency log: RFC 9162 and c2sp.org/signed-note read
literally, sharing no code with service/audit/merkle.py or note.py.

Written from RFC 9162's recursive definitions (MTH of §2.1.1, PATH of §2.1.3.1, PROOF and
SUBPROOF of §2.1.4.1) as straight recursion over the leaf list, with its own hashing. Its
verifiers undo the same recursions. The unit tests hold the service's proofs against it, and the
end-to-end tests check the proofs the service serves with it.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Reference:
    """MTH, PATH and PROOF over D[0:n] of one leaf list; subtree roots cached by range."""

    def __init__(self, entries: list[bytes]) -> None:
        self.entries = entries

    @cache  # noqa: B019 - one instance per test tree, dropped with it
    def mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return _sha256(b"")
        if n == 1:
            return _sha256(b"\x00" + self.entries[start])
        k = _largest_power_of_two_below(n)
        return _sha256(b"\x01" + self.mth(start, start + k) + self.mth(start + k, end))

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _largest_power_of_two_below(n)
        if m < k:
            return [*self.path(m, start, start + k), self.mth(start + k, end)]
        return [*self.path(m - k, start + k, end), self.mth(start, start + k)]

    def subproof(self, m: int, start: int, end: int, b: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if b else [self.mth(start, end)]
        k = _largest_power_of_two_below(n)
        if m <= k:
            return [*self.subproof(m, start, start + k, b), self.mth(start + k, end)]
        return [*self.subproof(m - k, start + k, end, False), self.mth(start, start + k)]

    def root(self, n: int) -> bytes:
        return self.mth(0, n)

    def inclusion(self, m: int, n: int) -> list[bytes]:
        return self.path(m, 0, n)

    def consistency(self, m: int, n: int) -> list[bytes]:
        return self.subproof(m, 0, n, True)


def reference_root_from_path(leaf: bytes, m: int, n: int, path: list[bytes]) -> bytes | None:
    """Undo PATH: the root ``path`` implies for ``leaf`` at m of n, None if it cannot fit."""
    if n == 1:
        return leaf if not path else None
    if not path:
        return None
    k = _largest_power_of_two_below(n)
    *inner, last = path
    if m < k:
        left = reference_root_from_path(leaf, m, k, inner)
        return None if left is None else _sha256(b"\x01" + left + last)
    right = reference_root_from_path(leaf, m - k, n - k, inner)
    return None if right is None else _sha256(b"\x01" + last + right)


def reference_roots_from_proof(
    m: int, n: int, proof: list[bytes], b: bool, first_root: bytes
) -> tuple[bytes, bytes] | None:
    """Undo SUBPROOF: the (old, new) roots of D[0:m] within D[0:n] that ``proof`` implies."""
    if m == n:
        if b:
            return (first_root, first_root) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = _largest_power_of_two_below(n)
    *inner, last = proof
    if m <= k:
        roots = reference_roots_from_proof(m, k, inner, b, first_root)
        return None if roots is None else (roots[0], _sha256(b"\x01" + roots[1] + last))
    roots = reference_roots_from_proof(m - k, n - k, inner, False, first_root)
    if roots is None:
        return None
    old, new = roots
    return _sha256(b"\x01" + last + old), _sha256(b"\x01" + last + new)


def reference_verifies_consistency(
    m: int, n: int, proof: list[bytes], first_root: bytes, second_root: bytes
) -> bool:
    roots = reference_roots_from_proof(m, n, proof, True, first_root)
    return roots == (first_root, second_root)


def independent_open_note(note: str, vkey: str) -> list[str]:
    """c2sp.org/signed-note and tlog-checkpoint read literally, sharing no code with note.py:
    the checkpoint's lines if ``vkey`` signed it; InvalidSignature if its signature fails."""
    name, hex_id, key_b64 = vkey.split("+", 2)
    key = base64.b64decode(key_b64)
    assert len(key) == 33
    assert key[0] == 1
    assert hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() == hex_id
    text, _, signatures = note.rpartition("\n\n")
    for line in signatures.splitlines():
        dash, signer, signature_b64 = line.split(" ")
        raw = base64.b64decode(signature_b64)
        if dash == "\u2014" and signer == name and raw[:4].hex() == hex_id:
            public_key = Ed25519PublicKey.from_public_bytes(key[1:])
            public_key.verify(raw[4:], (text + "\n").encode())
            return text.split("\n")
    raise AssertionError("no signature by the key")
