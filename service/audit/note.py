"""Checkpoints as C2SP signed notes, so that tools which verify transparency logs verify ours.

Two specifications, followed as golang.org/x/mod/sumdb/note and transparency-dev/formats
implement them (their published test vectors are in tests/unit/test_signed_note.py):

- **c2sp.org/signed-note**: a note is UTF-8 text ending in a newline, a blank line, then one
  or more lines ``— <key name> <base64(4-byte key id || signature)>``. An Ed25519 key's id is
  the first four bytes of SHA-256(key name || "\\n" || 0x01 || public key), and its signature
  covers the text (newline included, blank line not). A verifier key ("vkey") is written
  ``<name>+<hex key id>+<base64(0x01 || public key)>``. Verifiers skip signatures by keys they
  do not know, refuse a note in which a known key's signature fails, and need at least one
  known signature to verify.
- **c2sp.org/tlog-checkpoint**: the text of a checkpoint is ``<origin>\\n<tree size>\\n<base64
  root hash>\\n`` and optional extension lines: the RFC 9162 root (``merkle.py``) of the first
  ``size`` audit entries.

Witnesses cosign by adding their own signature line over the same text (``add_signature``).
Limits: a note over ``MAX_NOTE_BYTES`` or with more than ``MAX_SIGNATURES`` signature lines is
malformed, as a verifier must not spend unbounded work on what a server sends.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from service.audit.merkle import HASH_SIZE
from service.audit.signing import load_signing_key

# The audit log's origin line (and the key name its checkpoints are signed under), unless
# VOTER_AUDIT_LOG_ORIGIN names another: a schema-less URL prefix, as C2SP recommends.
DEFAULT_ORIGIN = "voters.election.kz/audit/v1"
MAX_NOTE_BYTES = 1_000_000
MAX_SIGNATURES = 100  # what sumdb/note accepts; the spec asks verifiers for at least 16
ED25519 = 0x01  # the signature type byte of Ed25519 note signatures
ED25519_PUBLIC_KEY_BYTES = 32
ED25519_SIGNATURE_BYTES = 64
KEY_ID_BYTES = 4
_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")
_MAX_TREE_SIZE = 2**64 - 1
_SIGNER_KEY_PREFIX = "PRIVATE+KEY+"


class MalformedNote(ValueError):
    """The bytes are not a signed note (or a vkey, or a checkpoint text) at all."""


class NoteRejected(ValueError):
    """A well-formed note that must not be believed."""


class UnverifiedNote(NoteRejected):
    """No signature by a known key: the text says nothing anyone trusts."""


class InvalidNoteSignature(NoteRejected):
    """A known key's signature does not verify: the text or the signature was altered."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"invalid signature for key {name}+{key_id:08x}")
        self.name = name
        self.key_id = key_id


def is_valid_key_name(name: str) -> bool:
    """Non-empty, without Unicode spaces or plus signs (signed-note, "Format")."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, public_key: bytes) -> int:
    """SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519]) + public_key).digest()
    return int.from_bytes(digest[:KEY_ID_BYTES], "big")


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name and id, and the signature without the id."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        encoded = _b64encode(self.key_id.to_bytes(KEY_ID_BYTES, "big") + self.signature)
        return f"{_SIGNATURE_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True)
class Note:
    """A parsed note: its text and signature lines, none of them verified."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def format(self) -> str:
        return self.text + "\n" + "".join(signature.line() for signature in self.signatures)


@dataclass(frozen=True)
class VerifiedNote:
    """A note at least one known key vouches for; ``unverified`` are by keys not known."""

    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]

    def signed_by(self, key: VerifierKey) -> bool:
        return any((s.name, s.key_id) == (key.name, key.key_id) for s in self.verified)


@dataclass(frozen=True)
class VerifierKey:
    """An Ed25519 note verifier key: ``parse`` reads and ``str`` writes the vkey format."""

    name: str
    key_id: int
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedNote("a key name is non-empty, without spaces or '+'")
        if len(self.public_key) != ED25519_PUBLIC_KEY_BYTES:
            raise MalformedNote("an Ed25519 public key is 32 bytes")
        if self.key_id != key_id(self.name, self.public_key):
            raise MalformedNote("the key id does not match the key name and public key")

    @classmethod
    def of(cls, name: str, public_key: Ed25519PublicKey) -> VerifierKey:
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(name=name, key_id=key_id(name, raw), public_key=raw)

    @classmethod
    def parse(cls, vkey: str) -> VerifierKey:
        # The base64 part may itself hold '+': split off the first two fields only.
        name, _, rest = vkey.partition("+")
        hex_id, _, encoded = rest.partition("+")
        key = _b64decode(encoded)
        if not _KEY_ID_HEX.fullmatch(hex_id) or key is None or not is_valid_key_name(name):
            raise MalformedNote("a vkey is <name>+<8 hex digits>+<base64 key>")
        if len(key) != 1 + ED25519_PUBLIC_KEY_BYTES or key[0] != ED25519:
            raise MalformedNote("only Ed25519 vkeys (type 0x01, 32-byte key) are supported")
        return cls(name=name, key_id=int(hex_id, 16), public_key=key[1:])

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{_b64encode(bytes([ED25519]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != ED25519_SIGNATURE_BYTES:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class NoteSigner:
    """Signs note texts with one Ed25519 key under one key name (the log's origin, or a
    witness's name)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not is_valid_key_name(name):
            raise ValueError("a key name is non-empty, without spaces or '+'")
        self._key = private_key
        self.verifier_key = VerifierKey.of(name, private_key.public_key())
        self.name = name
        self.key_id = self.verifier_key.key_id

    @classmethod
    def from_pem(cls, name: str, private_key_pem: str) -> NoteSigner:
        """From the PKCS#8 PEM the service keeps (VOTER_AUDIT_SIGNING_KEY)."""
        return cls(name, load_signing_key(private_key_pem))

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        """From sumdb/note's ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>``, the form
        Go's note.GenerateKey writes and witnesses built on it keep."""
        if not skey.startswith(_SIGNER_KEY_PREFIX):
            raise ValueError("a note signer key starts with PRIVATE+KEY+")
        name, _, rest = skey.removeprefix(_SIGNER_KEY_PREFIX).partition("+")
        hex_id, _, encoded = rest.partition("+")
        seed = _b64decode(encoded)
        if not _KEY_ID_HEX.fullmatch(hex_id) or seed is None or len(seed) != 33:
            raise ValueError("a note signer key is PRIVATE+KEY+<name>+<hex id>+<base64 seed>")
        if seed[0] != ED25519:
            raise ValueError("only Ed25519 note signer keys are supported")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed[1:]))
        if signer.key_id != int(hex_id, 16):
            raise ValueError("the key id does not match the key name and key")
        return signer

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        """A new key under ``name`` (a witness's, for ``voterctl witness keygen``)."""
        return cls(name, Ed25519PrivateKey.generate())

    def skey(self) -> str:
        """The ``PRIVATE+KEY+...`` form ``from_skey`` reads (Go's note.GenerateKey's): a
        secret, to be kept in a file only its owner reads."""
        seed = self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        encoded = _b64encode(bytes([ED25519]) + seed)
        return f"{_SIGNER_KEY_PREFIX}{self.name}+{self.key_id:08x}+{encoded}"

    def sign(self, text: str) -> NoteSignature:
        return NoteSignature(self.name, self.key_id, self._key.sign(text.encode("utf-8")))

    def __repr__(self) -> str:
        return f"NoteSigner(name={self.name!r}, key_id={self.key_id:08x})"


def _check_text(text: str) -> None:
    """Valid UTF-8 without control characters but newline, ending in a newline."""
    if not text.endswith("\n"):
        raise MalformedNote("a note's text ends with a newline")
    if any(ch < " " and ch != "\n" for ch in text):
        raise MalformedNote("a note holds no control characters but newlines")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise MalformedNote("a note is valid UTF-8") from exc


def _parse_signature(line: str) -> NoteSignature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise MalformedNote("a signature line starts with an em dash and a space")
    name, _, encoded = line.removeprefix(_SIGNATURE_PREFIX).partition(" ")
    raw = _b64decode(encoded)
    if not is_valid_key_name(name) or raw is None or len(raw) <= KEY_ID_BYTES:
        raise MalformedNote("a signature line is '— <key name> <base64 signature>'")
    return NoteSignature(name, int.from_bytes(raw[:KEY_ID_BYTES], "big"), raw[KEY_ID_BYTES:])


def parse_note(data: bytes | str) -> Note:
    """Split a signed note into its text and signature lines; MalformedNote if it is none.

    Nothing is verified here: the text means nothing until ``verify_note`` says so.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > MAX_NOTE_BYTES:
        raise MalformedNote(f"a note is at most {MAX_NOTE_BYTES} bytes")
    try:
        message = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedNote("a note is valid UTF-8") from exc
    # The text ends at the last blank line; what follows is only signature lines.
    split = message.rfind("\n\n")
    if split < 0:
        raise MalformedNote("a note has a blank line before its signatures")
    text, block = message[: split + 1], message[split + 2 :]
    _check_text(text)
    if not block:
        raise MalformedNote("a note has at least one signature")
    _check_text(block)
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"a note has at most {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature(line) for line in lines))


def verify_note(data: bytes | str, known: Iterable[VerifierKey]) -> VerifiedNote:
    """Parse ``data`` and check its signatures against ``known`` keys.

    Signatures by keys not in ``known`` (by name and id) are skipped; a repeated signature by
    one key counts once. Raises MalformedNote, InvalidNoteSignature when a known key's signature
    fails, and UnverifiedNote when no known key signed at all.
    """
    keys: dict[tuple[str, int], VerifierKey] = {}
    for key in known:
        held = keys.setdefault((key.name, key.key_id), key)
        if held != key:
            raise ValueError(f"two different keys are named {key.name}+{key.key_id:08x}")
    note = parse_note(data)
    message = note.text.encode("utf-8")
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    for signature in note.signatures:
        signer = keys.get((signature.name, signature.key_id))
        if signer is None:
            if signature not in unverified:
                unverified.append(signature)
            continue
        if any(signature.name == v.name and signature.key_id == v.key_id for v in verified):
            continue
        if not signer.verify(message, signature.signature):
            raise InvalidNoteSignature(signature.name, signature.key_id)
        verified.append(signature)
    if not verified:
        raise UnverifiedNote("no signature by a known key")
    return VerifiedNote(note.text, tuple(verified), tuple(unverified))


def sign_note(text: str, signer: NoteSigner) -> str:
    """The signed note of ``text`` with ``signer``'s signature line."""
    _check_text(text)
    return Note(text, (signer.sign(text),)).format()


def add_signature(note: bytes | str, signer: NoteSigner) -> str:
    """``note`` with ``signer``'s signature added last, replacing any it held by the same key
    (as sumdb/note's Sign does). A witness verifies the note before cosigning it: this only
    parses it."""
    parsed = parse_note(note)
    kept = tuple(s for s in parsed.signatures if (s.name, s.key_id) != (signer.name, signer.key_id))
    if len(kept) >= MAX_SIGNATURES:
        raise MalformedNote(f"a note has at most {MAX_SIGNATURES} signatures")
    return Note(parsed.text, (*kept, signer.sign(parsed.text))).format()


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint: the log's origin, its tree size and the RFC 9162 root at that size."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or any(ch < " " for ch in self.origin):
            raise MalformedNote("a checkpoint's origin is one non-empty line")
        if isinstance(self.size, bool) or not 0 <= self.size <= _MAX_TREE_SIZE:
            raise MalformedNote("a checkpoint's tree size is an unsigned 64-bit integer")
        if len(self.root_hash) != HASH_SIZE:
            raise MalformedNote("a checkpoint's root hash is 32 bytes")
        for line in self.extensions:
            if not line or any(ch < " " for ch in line):
                raise MalformedNote("a checkpoint's extension lines are non-empty lines")
        _check_text(self.text())  # and all of it UTF-8, so that it can be signed

    def text(self) -> str:
        """The note text: origin, size, base64 root hash and extension lines."""
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        _check_text(text)
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedNote("a checkpoint has an origin, a size and a root hash line")
        origin, size, root, *extensions = lines
        if not _TREE_SIZE.fullmatch(size):
            raise MalformedNote("a checkpoint's tree size is decimal without leading zeros")
        root_hash = _b64decode(root)
        if root_hash is None or _b64encode(root_hash) != root:
            raise MalformedNote("a checkpoint's root hash is base64")
        return cls(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    return sign_note(checkpoint.text(), signer)


def open_checkpoint(
    data: bytes | str,
    *,
    origin: str,
    log_key: VerifierKey,
    witness_keys: Iterable[VerifierKey] = (),
) -> tuple[Checkpoint, VerifiedNote]:
    """Verify a checkpoint note: signed by ``log_key``, for ``origin``, well formed.

    Signatures by ``witness_keys`` are verified too (a bad one refuses the note); the caller
    counts ``VerifiedNote.verified`` for a witnessing policy.
    """
    verified = verify_note(data, [log_key, *witness_keys])
    if not verified.signed_by(log_key):
        raise UnverifiedNote(f"the checkpoint is not signed by the log's key {log_key.name}")
    checkpoint = Checkpoint.parse(verified.text)
    if checkpoint.origin != origin:
        raise NoteRejected(f"the checkpoint is for {checkpoint.origin!r}, not {origin!r}")
    return checkpoint, verified
