"""Checkpoints as C2SP signed notes (service/audit/note.py): published vectors, then refusals.

Interoperability rests on other implementations' published test vectors, copied with their
sources below: if our parser, verifier or signer disagreed with Go's by a byte, they would fail.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from service.audit.merkle import MemorySubtreeHashes, inclusion_proof, leaf_hash, verify_inclusion
from service.audit.note import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    Checkpoint,
    InvalidNoteSignature,
    MalformedNote,
    NoteRejected,
    NoteSigner,
    UnverifiedNote,
    VerifierKey,
    add_signature,
    key_id,
    open_checkpoint,
    parse_note,
    sign_checkpoint,
    sign_note,
    verify_note,
)
from service.audit.signing import generate_signing_key
from tests.merkle_reference import Reference, independent_open_note, reference_root_from_path

# golang.org/x/mod sumdb/note/note_test.go (commit fe2ec04f7c3c3aa6fad97631aafcff6e49e2d1db):
# TestNewVerifier, TestSign, TestOpen.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb"
    "6KE6RyyBwJnAM=\n"
)
PETER_B64 = PETER_SIG.split(" ")[2].strip()
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox3"
    "3WWd1RvMc+QQ=\n"
)

# c2sp.org/signed-note (C2SP/C2SP signed-note.md, commit 5ba5ee83): "Verifier keys", Example.
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONnc"
    "AlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# transparency-dev/formats log/note_test.go (commit 0b850f1a): TestSumDBNoteParsing, a real
# checkpoint of the Go checksum database, and the keys of TestParseCheckpoint.
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_CHECKPOINT = (
    "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n"
    "— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimW"
    "EPWL+o3GeoWwOoAw=\n"
)
LOG_VKEY = "Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs"
LOG_SKEY = "PRIVATE+KEY+Log+2271c621+AdEIq9FLRQni54Wg68T96VJO+iayOaulswav2DUMKgvQ"
KNOWN1_VKEY = "Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH"
KNOWN1_SKEY = "PRIVATE+KEY+Known+451c786d+AQPRoE2+Z+Ed1HaHBA9F/FfracvcZ2rDU39kCecMEoci"
UNKNOWN_SKEY = "PRIVATE+KEY+Unknown+fdbb2e08+Aav2knTC6orbhXX8pMWuNiWgO+Wwk2DB+h1eU2Q1W1nU"

ORIGIN = "elections.example.kz/audit"


def peter() -> VerifierKey:
    return VerifierKey.parse(PETER_VKEY)


# --- interoperability ------------------------------------------------------------------------


def test_our_signer_writes_the_very_signature_line_go_writes_for_the_same_key_and_text() -> None:
    signer = NoteSigner.from_skey(PETER_SKEY)
    assert sign_note(GO_TEXT, signer) == GO_TEXT + "\n" + PETER_SIG
    assert str(signer.verifier_key) == PETER_VKEY


def test_key_ids_are_the_first_four_bytes_of_the_hash_of_name_type_and_key() -> None:
    key = peter()
    assert key.key_id == 0xC74F20A3
    raw = hashlib.sha256(b"PeterNeumann\n\x01" + key.public_key).digest()
    assert key_id("PeterNeumann", key.public_key) == int.from_bytes(raw[:4], "big")


def test_gos_note_verifies_with_one_known_key_and_keeps_the_other_signature_unverified() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    opened = verify_note(note, [peter()])
    assert opened.text == GO_TEXT
    assert [s.name for s in opened.verified] == ["PeterNeumann"]
    assert [(s.name, s.key_id) for s in opened.unverified] == [("EnochRoot", 0xAF0CFE78)]
    both = verify_note(note, [peter(), VerifierKey.parse(ENOCH_VKEY)])
    assert [s.name for s in both.verified] == ["PeterNeumann", "EnochRoot"]
    assert both.unverified == ()


def test_the_c2sp_signed_note_example_verifies_with_its_published_vkey() -> None:
    opened = verify_note(C2SP_NOTE, [VerifierKey.parse(C2SP_VKEY)])
    assert opened.text == "This is an example message.\n"


def test_a_real_go_checksum_database_checkpoint_opens_with_its_published_key() -> None:
    checkpoint, note = open_checkpoint(
        SUMDB_CHECKPOINT, origin="go.sum database tree", log_key=VerifierKey.parse(SUMDB_VKEY)
    )
    assert checkpoint.size == 6476701
    assert checkpoint.root_hash == base64.b64decode("mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=")
    assert checkpoint.text() == note.text
    with pytest.raises(NoteRejected, match="not 'Go rocks"):
        open_checkpoint(SUMDB_CHECKPOINT, origin="Go rocks", log_key=VerifierKey.parse(SUMDB_VKEY))


def test_a_checkpoint_signed_by_the_log_and_cosigned_by_witnesses_counts_only_known_ones() -> None:
    """transparency-dev/formats TestParseCheckpoint's keys: log, a known and an unknown one."""
    log, known, stranger = (NoteSigner.from_skey(k) for k in (LOG_SKEY, KNOWN1_SKEY, UNKNOWN_SKEY))
    assert str(log.verifier_key) == LOG_VKEY
    assert str(known.verifier_key) == KNOWN1_VKEY
    checkpoint = Checkpoint("TestParseCheckpoint", 42, hashlib.sha256(b"abcdef").digest())
    note = add_signature(add_signature(sign_checkpoint(checkpoint, log), known), stranger)
    opened, verified = open_checkpoint(
        note,
        origin="TestParseCheckpoint",
        log_key=VerifierKey.parse(LOG_VKEY),
        witness_keys=[VerifierKey.parse(KNOWN1_VKEY)],
    )
    assert opened == checkpoint
    assert [s.name for s in verified.verified] == ["Log", "Known"]
    assert [s.name for s in verified.unverified] == ["Unknown"]


def test_a_checkpoint_signed_only_by_witnesses_is_not_the_logs() -> None:
    log, known = NoteSigner.from_skey(LOG_SKEY), NoteSigner.from_skey(KNOWN1_SKEY)
    checkpoint = Checkpoint("TestParseCheckpoint", 42, bytes(32))
    only_witness = sign_checkpoint(checkpoint, known)
    with pytest.raises(UnverifiedNote, match="not signed by the log"):
        open_checkpoint(
            only_witness,
            origin="TestParseCheckpoint",
            log_key=log.verifier_key,
            witness_keys=[known.verifier_key],
        )


def test_the_service_key_signs_checkpoints_that_open_with_its_vkey_and_prove_an_entry() -> None:
    signer = NoteSigner.from_pem(ORIGIN, generate_signing_key())
    vkey = VerifierKey.parse(str(signer.verifier_key))
    tree = MemorySubtreeHashes(leaf_hash(f"entry {i}".encode()) for i in range(10))
    note = sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root()), signer)
    assert note.startswith(f"{ORIGIN}\n10\n{base64.b64encode(tree.root()).decode()}\n\n— {ORIGIN} ")
    checkpoint, _ = open_checkpoint(note, origin=ORIGIN, log_key=vkey)
    proof = inclusion_proof(tree, index=3, tree_size=checkpoint.size)
    assert verify_inclusion(
        leaf=leaf_hash(b"entry 3"),
        index=3,
        tree_size=checkpoint.size,
        proof=proof,
        root=checkpoint.root_hash,
    )


def test_a_text_with_blank_lines_of_its_own_ends_at_the_last_blank_line() -> None:
    """c2sp.org/signed-note's first example: the text MAY contain empty lines."""
    text = (
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\n"
        "ed è subito sera.\n"
    )
    signer = NoteSigner.from_skey(PETER_SKEY)
    note = add_signature(sign_note(text, signer), NoteSigner.from_skey(KNOWN1_SKEY))
    assert parse_note(note).text == text
    assert verify_note(note, [peter()]).text == text


def test_a_service_checkpoint_and_an_inclusion_proof_check_out_with_independent_code() -> None:
    """The issue's interoperability proof: nothing of note.py or merkle.py's verification."""
    signer = NoteSigner.from_pem(ORIGIN, generate_signing_key())
    entries = [f"entry {i}".encode() for i in range(21)]
    tree = MemorySubtreeHashes(leaf_hash(entry) for entry in entries)
    note = add_signature(
        sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root()), signer),
        NoteSigner.from_skey(KNOWN1_SKEY),
    )
    origin, size, root_b64 = independent_open_note(note, str(signer.verifier_key))
    assert (origin, size) == (ORIGIN, "21")
    reference = Reference(entries)
    assert base64.b64decode(root_b64) == reference.root(21)
    for index in (0, 13, 20):
        proof = inclusion_proof(tree, index=index, tree_size=21)
        leaf = hashlib.sha256(b"\x00" + entries[index]).digest()
        assert reference_root_from_path(leaf, index, 21, proof) == base64.b64decode(root_b64)
    with pytest.raises(InvalidSignature):
        independent_open_note(note.replace("\n21\n", "\n22\n"), str(signer.verifier_key))


def test_cosigning_again_with_the_same_key_replaces_the_old_signature_line() -> None:
    signer = NoteSigner.from_skey(PETER_SKEY)
    stale = GO_TEXT + "\n" + ENOCH_SIG + "— PeterNeumann x08goxxx\n"
    assert add_signature(stale, signer) == GO_TEXT + "\n" + ENOCH_SIG + PETER_SIG


@given(
    origin=st.text(st.characters(min_codepoint=0x21, exclude_categories=["Cs"]), min_size=1),
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1),
        max_size=3,
    ),
)
def test_any_checkpoint_survives_signing_and_opening_unchanged(
    origin: str, size: int, root: bytes, extensions: list[str]
) -> None:
    signer = NoteSigner("witness.example/w1", Ed25519PrivateKey.from_private_bytes(bytes(32)))
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    opened, _ = open_checkpoint(
        sign_checkpoint(checkpoint, signer), origin=origin, log_key=signer.verifier_key
    )
    assert opened == checkpoint


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        # sumdb/note TestOpen's badMsgs, each "malformed note" there.
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT + "\n" + "— Bad Name " + PETER_SIG.split(" ")[2],
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        # And each shape of a bad signature line.
        GO_TEXT + "\n" + PETER_SIG.replace("—", "-"),
        GO_TEXT + "\n" + "— PeterNeumann\n",
        GO_TEXT + "\n" + "— PeterNeumann \n",
        GO_TEXT + "\n" + f"—  {PETER_B64}\n",
        GO_TEXT + "\n" + f"— Peter+Neumann {PETER_B64}\n",
        GO_TEXT + "\n" + f"— Peter\u00a0Neumann {PETER_B64}\n",
        GO_TEXT + "\n" + "— PeterNeumann x08g%/ZJk=\n",
        GO_TEXT + "\n" + "— PeterNeumann x08go/ZJk\n",
        GO_TEXT + "\n" + "— PeterNeumann x08gow==\n",
        GO_TEXT + "\n" + f"— PeterNeumann {PETER_B64} extra\n",
        GO_TEXT + "\n" + PETER_SIG + "\n",
        GO_TEXT + "\n" + PETER_SIG.replace("\n", "\r\n"),
        "no newline at the end of the text\n\n" + PETER_SIG[:-1],
    ],
)
def test_a_malformed_note_is_refused_before_any_signature_is_checked(message: str) -> None:
    with pytest.raises(MalformedNote):
        verify_note(message, [peter()])


def test_a_note_that_is_not_utf_8_is_malformed() -> None:
    with pytest.raises(MalformedNote, match="UTF-8"):
        parse_note(b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode())
    with pytest.raises(MalformedNote, match="UTF-8"):
        parse_note("\ud800" + GO_TEXT + "\n" + PETER_SIG)


def test_a_note_over_one_megabyte_is_malformed_without_being_read() -> None:
    text = "x" * (MAX_NOTE_BYTES - len(PETER_SIG.encode()) - 2) + "\n"
    fits = text + "\n" + PETER_SIG
    assert len(fits.encode()) == MAX_NOTE_BYTES
    assert parse_note(fits).text == text
    with pytest.raises(MalformedNote, match="at most 1000000 bytes"):
        parse_note("y" + fits)


def test_a_hundred_signatures_are_read_and_a_hundred_and_one_are_malformed() -> None:
    opened = verify_note(GO_TEXT + "\n" + PETER_SIG * MAX_SIGNATURES, [peter()])
    assert len(opened.verified) == 1  # one key's repeated signature counts once
    for known in ([peter()], []):
        with pytest.raises(MalformedNote, match="at most 100 signatures"):
            verify_note(GO_TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1), known)


def test_a_known_keys_bad_signature_refuses_the_whole_note() -> None:
    """sumdb/note TestOpen: "ABCD" spliced into Peter's signature."""
    broken = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(InvalidNoteSignature, match="PeterNeumann\\+c74f20a3"):
        verify_note(GO_TEXT + "\n" + broken + ENOCH_SIG, [peter()])


def test_a_modified_text_fails_the_signature_that_covered_the_original() -> None:
    altered = GO_TEXT.replace("cryptography", "a blockchain")
    with pytest.raises(InvalidNoteSignature):
        verify_note(altered + "\n" + PETER_SIG, [peter()])
    checkpoint = SUMDB_CHECKPOINT.replace("6476701", "6476702")
    with pytest.raises(InvalidNoteSignature):
        open_checkpoint(
            checkpoint, origin="go.sum database tree", log_key=VerifierKey.parse(SUMDB_VKEY)
        )


def test_a_note_signed_only_by_unknown_keys_is_unverified() -> None:
    with pytest.raises(UnverifiedNote):
        verify_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    # A key known by name but with another id, or by id under another name, is not known.
    impostor = PETER_SIG.replace("PeterNeumann", "PeterNeuman")
    with pytest.raises(UnverifiedNote):
        verify_note(GO_TEXT + "\n" + impostor, [peter()])
    other_key = VerifierKey.of("PeterNeumann", Ed25519PrivateKey.generate().public_key())
    with pytest.raises(UnverifiedNote):
        verify_note(GO_TEXT + "\n" + PETER_SIG, [other_key])


def test_two_different_keys_under_one_name_and_id_are_refused_as_ambiguous() -> None:
    key = peter()
    clash = object.__new__(VerifierKey)
    object.__setattr__(clash, "name", key.name)
    object.__setattr__(clash, "key_id", key.key_id)
    object.__setattr__(clash, "public_key", bytes(32))
    with pytest.raises(ValueError, match="two different keys"):
        verify_note(GO_TEXT + "\n" + PETER_SIG, [key, clash])
    assert verify_note(GO_TEXT + "\n" + PETER_SIG, [key, peter()]).verified


def _manglings(text: str) -> set[str]:
    """sumdb/note TestNewVerifier: every proper substring, and every byte plus one."""
    raw = text.encode()
    out = {raw[i:j] for i in range(len(raw) + 1) for j in range(i + 1, len(raw) + 1)}
    out |= {raw[:i] + bytes([raw[i] + 1]) + raw[i + 1 :] for i in range(len(raw))}
    out.discard(raw)
    return {m.decode("utf-8", "replace") for m in out}


def test_every_mangling_of_a_vkey_is_refused() -> None:
    for mangled in _manglings(PETER_VKEY):
        with pytest.raises(MalformedNote):
            VerifierKey.parse(mangled)


@pytest.mark.parametrize(
    "vkey",
    [
        # sumdb/note TestNewVerifier: wrong length key and unknown algorithm, hashes adjusted.
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_a_vkey_of_another_algorithm_length_or_spelling_is_refused(vkey: str) -> None:
    with pytest.raises(MalformedNote):
        VerifierKey.parse(vkey)


def test_every_mangling_of_a_signer_key_is_refused() -> None:
    for mangled in _manglings(PETER_SKEY):
        with pytest.raises(ValueError):
            NoteSigner.from_skey(mangled)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "nbsp\u00a0here"])
def test_a_key_name_with_spaces_or_plus_signs_is_refused(name: str) -> None:
    with pytest.raises(ValueError):
        NoteSigner(name, Ed25519PrivateKey.generate())


def test_a_text_without_its_final_newline_cannot_be_signed() -> None:
    with pytest.raises(MalformedNote):
        sign_note("abc", NoteSigner.from_skey(PETER_SKEY))


ROOT_B64 = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    "text",
    [
        f"{ORIGIN}\n10\n",
        f"\n10\n{ROOT_B64}\n",
        f"{ORIGIN}\n010\n{ROOT_B64}\n",
        f"{ORIGIN}\n-1\n{ROOT_B64}\n",
        f"{ORIGIN}\n+1\n{ROOT_B64}\n",
        f"{ORIGIN}\n1e3\n{ROOT_B64}\n",
        f"{ORIGIN}\n\u0663\n{ROOT_B64}\n",
        f"{ORIGIN}\n{2**64}\n{ROOT_B64}\n",
        f"{ORIGIN}\n10\n{base64.b64encode(bytes(31)).decode()}\n",
        f"{ORIGIN}\n10\nnot base64!\n",
        f"{ORIGIN}\n10\n{ROOT_B64.rstrip('=')}\n",
        f"{ORIGIN}\n10\n{ROOT_B64[:-2]}B=\n",  # the same 32 bytes, non-canonical base64
        f"{ORIGIN}\n10\n{ROOT_B64}\nextension\n\n",
    ],
)
def test_a_checkpoint_text_out_of_the_tlog_checkpoint_format_is_refused(text: str) -> None:
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    note = text + "\n" + signer.sign(text).line()
    with pytest.raises(MalformedNote):
        open_checkpoint(note, origin=ORIGIN, log_key=signer.verifier_key)


@pytest.mark.parametrize(
    "fields",
    [
        {"origin": ""},
        {"origin": "two\nlines"},
        {"size": -1},
        {"size": 2**64},
        {"root_hash": bytes(31)},
        {"extensions": ("",)},
        {"extensions": ("a\nb",)},
        # Found by hypothesis: a lone surrogate is no UTF-8 and could not have been signed.
        {"extensions": ("\ud800",)},
        {"origin": "log\udfff"},
    ],
)
def test_a_checkpoint_that_could_not_be_written_as_three_lines_is_refused(
    fields: dict[str, Any],
) -> None:
    values: dict[str, Any] = {"origin": ORIGIN, "size": 1, "root_hash": bytes(32)} | fields
    with pytest.raises(MalformedNote):
        Checkpoint(**values)


def test_a_signer_shows_its_name_and_key_id_but_never_its_key() -> None:
    signer = NoteSigner.from_skey(PETER_SKEY)
    assert repr(signer) == "NoteSigner(name='PeterNeumann', key_id=c74f20a3)"
