"""The pure hash chain: canonical bodies, hashes, and what verification catches.

Signatures here come from an HMAC fake; the Ed25519 wrapper has its own tests at the end.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

import service.audit.chain
from service.audit.chain import (
    GENESIS_HASH,
    ChainEntry,
    Checkpoint,
    Problem,
    VerifyReport,
    canonical_body,
    checkpoint_message,
    entry_hash,
    verify_chain,
)
from service.audit.pseudonym import pseudonymise
from service.audit.signing import CheckpointSigner, CheckpointVerifier, generate_signing_key

FAKE_SECRET = b"unit-test-checkpoint-secret"
FAKE_KEY_ID = "00112233445566ff"
BASE_TIME = datetime(2026, 8, 30, 7, 0, tzinfo=UTC)
KINDS = ("eligibility.check", "precinct.check", "day_registration.create", "override.approve")


def fake_sign(message: bytes) -> bytes:
    return hmac.new(FAKE_SECRET, message, hashlib.sha256).digest()


def fake_verify(message: bytes, signature: bytes) -> bool:
    return hmac.compare_digest(fake_sign(message), signature)


def signed_checkpoint(size: int, head_hash: str) -> Checkpoint:
    signed_at = BASE_TIME + timedelta(seconds=size)
    signature = fake_sign(checkpoint_message(size, head_hash, signed_at, FAKE_KEY_ID))
    return Checkpoint(size, head_hash, signed_at, FAKE_KEY_ID, signature)


Record = tuple[str, str | None, dict[str, Any]]


@dataclass(frozen=True)
class Log:
    entries: list[ChainEntry]
    checkpoints: list[Checkpoint]

    @property
    def size(self) -> int:
        return len(self.entries)

    @property
    def covered(self) -> int:
        return max((c.size for c in self.checkpoints), default=0)


def chain_from(
    records: Sequence[Record], *, first_seq: int = 1, prev_hash: str = GENESIS_HASH
) -> list[ChainEntry]:
    entries = []
    for seq, (kind, subject, payload) in enumerate(records, start=first_seq):
        body = canonical_body(
            seq=seq,
            kind=kind,
            recorded_at=BASE_TIME + timedelta(milliseconds=seq),
            subject=subject,
            payload=payload,
        )
        digest = entry_hash(prev_hash, body)
        entries.append(ChainEntry(seq, prev_hash, digest, body))
        prev_hash = digest
    return entries


def build_log(records: Sequence[Record], checkpoint_every: int) -> Log:
    entries = chain_from(records)
    checkpoints = [
        signed_checkpoint(e.seq, e.entry_hash) for e in entries if e.seq % checkpoint_every == 0
    ]
    return Log(entries, checkpoints)


def verify(entries: Sequence[ChainEntry], checkpoints: Sequence[Checkpoint]) -> VerifyReport:
    # A one-shot generator: verification must not need to re-read or index the entries.
    one_pass: Iterator[ChainEntry] = (entry for entry in entries)
    return verify_chain(one_pass, checkpoints, verify_signature=fake_verify)


def caught(report: VerifyReport) -> tuple[int | None, Problem | None]:
    assert not report.ok
    return report.first_bad_seq, report.problem


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=12)
)
payloads = st.dictionaries(st.text(max_size=8), json_scalars, max_size=4)
subjects = st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=4, max_size=8))
records = st.tuples(st.sampled_from(KINDS), subjects, payloads)


@st.composite
def logs(draw: st.DrawFn, *, min_size: int = 1) -> Log:
    entries = draw(st.lists(records, min_size=min_size, max_size=30))
    return build_log(entries, draw(st.integers(1, 8)))


@st.composite
def checkpointed_logs(draw: st.DrawFn) -> Log:
    """Logs with at least one checkpoint."""
    entries = draw(st.lists(records, min_size=1, max_size=30))
    return build_log(entries, draw(st.integers(1, len(entries))))


# -- canonical form and hashes ---------------------------------------------------------------


def test_canonical_body_is_sorted_compact_utc_json_that_keeps_non_ascii_text() -> None:
    almaty = timezone(timedelta(hours=5))
    body = canonical_body(
        seq=7,
        kind="eligibility.check",
        recorded_at=datetime(2026, 8, 30, 12, 0, 1, 5, tzinfo=almaty),
        subject="v1:ab",
        payload={"reasons": ["UNDER_18"], "actor": {"sub": "Айгерім", "role": "egov"}},
    )
    assert body == (
        '{"kind":"eligibility.check",'
        '"payload":{"actor":{"role":"egov","sub":"Айгерім"},"reasons":["UNDER_18"]},'
        '"recorded_at":"2026-08-30T07:00:01.000005Z","seq":7,"subject":"v1:ab"}'
    )


def test_canonical_body_refuses_a_naive_timestamp() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        canonical_body(seq=1, kind="k", recorded_at=datetime(2026, 8, 30), subject=None, payload={})


def test_entry_hash_is_sha256_of_raw_previous_hash_then_utf8_body() -> None:
    prev = "ab" * 32
    assert (
        entry_hash(prev, '{"a":"ä"}')
        == hashlib.sha256(bytes.fromhex(prev) + '{"a":"ä"}'.encode()).hexdigest()
    )
    assert entry_hash(GENESIS_HASH, "") == hashlib.sha256(bytes(32)).hexdigest()


def test_entry_hash_refuses_a_previous_hash_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="64 hex"):
        entry_hash("abcd", "{}")


def test_checkpoint_message_binds_size_head_time_and_key() -> None:
    message = checkpoint_message(1000, "ab" * 32, BASE_TIME, FAKE_KEY_ID)
    assert json.loads(message) == {
        "format": "voter-audit-checkpoint/1",
        "size": 1000,
        "head_hash": "ab" * 32,
        "signed_at": "2026-08-30T07:00:00.000000Z",
        "key_id": FAKE_KEY_ID,
    }
    assert message != checkpoint_message(1001, "ab" * 32, BASE_TIME, FAKE_KEY_ID)


def test_chain_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(service.audit.chain.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


# -- a clean log ------------------------------------------------------------------------------


def test_empty_log_without_checkpoints_verifies() -> None:
    report = verify([], [])
    assert report.ok
    assert (report.entries_checked, report.checkpoints_checked) == (0, 0)


@given(logs(min_size=0))
def test_untampered_log_verifies_without_false_alarm(log: Log) -> None:
    report = verify(log.entries, log.checkpoints)
    assert report.ok, report.detail
    assert report.entries_checked == log.size
    assert report.checkpoints_checked == len(log.checkpoints)
    assert report.first_bad_seq is None
    assert report.problem is None


@given(checkpointed_logs())
def test_checkpoints_may_arrive_in_any_order(log: Log) -> None:
    assert verify(log.entries, list(reversed(log.checkpoints))).ok


@given(logs(min_size=0))
def test_verification_reports_the_entries_no_checkpoint_covers(log: Log) -> None:
    report = verify(log.entries, log.checkpoints)
    assert report.ok, report.detail
    assert report.covered == log.covered
    assert report.uncovered == log.size - log.covered
    if log.covered == log.size:
        assert report.uncovered_seqs is None
    else:
        assert report.uncovered_seqs == (log.covered + 1, log.size)


def test_a_log_cut_after_its_last_checkpoint_names_the_unsigned_seqs() -> None:
    log = build_log([("eligibility.check", None, {})] * 7, checkpoint_every=3)
    report = verify(log.entries, log.checkpoints)
    assert report.ok
    assert (report.covered, report.uncovered, report.uncovered_seqs) == (6, 1, (7, 7))
    uncovered = verify(log.entries, [])
    assert (uncovered.covered, uncovered.uncovered, uncovered.uncovered_seqs) == (0, 7, (1, 7))


@given(checkpointed_logs())
def test_a_failed_verification_counts_only_checkpoints_it_verified_as_covering(log: Log) -> None:
    newest = max(log.checkpoints, key=lambda c: c.size)
    forged = replace(newest, signature=b"\x00" * 32)
    report = verify(log.entries, [c for c in log.checkpoints if c is not newest] + [forged])
    assert not report.ok
    assert report.covered == max((c.size for c in log.checkpoints if c is not newest), default=0)


# -- single mutations -------------------------------------------------------------------------


@given(logs(), st.data())
def test_editing_one_character_of_a_body_is_modified_at_that_seq(
    log: Log, data: st.DataObject
) -> None:
    seq = data.draw(st.integers(1, log.size), label="seq")
    target = log.entries[seq - 1]
    position = data.draw(st.integers(0, len(target.body) - 1), label="position")
    new_char = data.draw(st.characters().filter(lambda c: c != target.body[position]))
    edited = target.body[:position] + new_char + target.body[position + 1 :]
    entries = list(log.entries)
    entries[seq - 1] = replace(target, body=edited)
    assert caught(verify(entries, log.checkpoints)) == (seq, Problem.MODIFIED)


@given(logs(min_size=2), st.data())
def test_deleting_an_entry_from_the_middle_is_deleted_at_its_seq(
    log: Log, data: st.DataObject
) -> None:
    seq = data.draw(st.integers(1, log.size - 1), label="seq")
    entries = log.entries[: seq - 1] + log.entries[seq:]
    assert caught(verify(entries, log.checkpoints)) == (seq, Problem.DELETED)


@given(checkpointed_logs(), st.data())
def test_cutting_the_chain_below_a_signed_checkpoint_is_truncated_after_the_last_kept_entry(
    log: Log, data: st.DataObject
) -> None:
    kept = data.draw(st.integers(0, log.covered - 1), label="kept")
    assert caught(verify(log.entries[:kept], log.checkpoints)) == (kept + 1, Problem.TRUNCATED)


def forged_entry(seq: int, prev_hash: str) -> ChainEntry:
    [entry] = chain_from(
        [("eligibility.check", None, {"outcome": "eligible", "forged": True})],
        first_seq=seq,
        prev_hash=prev_hash,
    )
    return entry


@given(logs(), st.data())
def test_a_well_formed_entry_slipped_in_with_the_tail_renumbered_is_inserted_at_its_seq(
    log: Log, data: st.DataObject
) -> None:
    # What an attacker with the database does: move every later row one seq down, then fill
    # the hole with an entry that links correctly to its predecessor.
    seq = data.draw(st.integers(1, log.size), label="seq")
    before = log.entries[: seq - 1]
    prev_hash = before[-1].entry_hash if before else GENESIS_HASH
    shifted = [replace(e, seq=e.seq + 1) for e in log.entries[seq - 1 :]]
    entries = [*before, forged_entry(seq, prev_hash), *shifted]
    assert caught(verify(entries, log.checkpoints)) == (seq, Problem.INSERTED)


@given(logs(), st.data())
def test_a_well_formed_entry_slipped_in_under_a_duplicate_seq_is_inserted_at_that_seq(
    log: Log, data: st.DataObject
) -> None:
    # What an attacker with only an export file can do: add a line without renumbering.
    seq = data.draw(st.integers(1, log.size), label="seq")
    before = log.entries[: seq - 1]
    prev_hash = before[-1].entry_hash if before else GENESIS_HASH
    entries = [*before, forged_entry(seq, prev_hash), *log.entries[seq - 1 :]]
    assert caught(verify(entries, log.checkpoints)) == (seq, Problem.INSERTED)


@given(logs(min_size=2), st.data())
def test_swapping_two_entries_is_reordered_at_the_earlier_seq(
    log: Log, data: st.DataObject
) -> None:
    first = data.draw(st.integers(1, log.size - 1), label="first")
    second = data.draw(st.integers(first + 1, log.size), label="second")
    entries = list(log.entries)
    entries[first - 1], entries[second - 1] = entries[second - 1], entries[first - 1]
    assert caught(verify(entries, log.checkpoints)) == (first, Problem.REORDERED)


@given(logs(min_size=2), st.data())
def test_swapping_two_rows_bodies_is_modified_at_the_earlier_seq(
    log: Log, data: st.DataObject
) -> None:
    first = data.draw(st.integers(1, log.size - 1), label="first")
    second = data.draw(st.integers(first + 1, log.size), label="second")
    entries = list(log.entries)
    a, b = entries[first - 1], entries[second - 1]
    entries[first - 1], entries[second - 1] = replace(a, body=b.body), replace(b, body=a.body)
    assert caught(verify(entries, log.checkpoints)) == (first, Problem.MODIFIED)


@given(logs(min_size=2), st.data())
def test_swapping_two_rows_seqs_is_reordered_at_the_earlier_seq(
    log: Log, data: st.DataObject
) -> None:
    first = data.draw(st.integers(1, log.size - 1), label="first")
    second = data.draw(st.integers(first + 1, log.size), label="second")
    entries = list(log.entries)
    a, b = entries[first - 1], entries[second - 1]
    entries[first - 1], entries[second - 1] = replace(b, seq=a.seq), replace(a, seq=b.seq)
    assert caught(verify(entries, log.checkpoints)) == (first, Problem.REORDERED)


@given(logs(min_size=2), st.data())
def test_rewriting_one_entry_with_a_fresh_hash_breaks_the_next_link(
    log: Log, data: st.DataObject
) -> None:
    seq = data.draw(st.integers(1, log.size - 1), label="seq")
    target = log.entries[seq - 1]
    [rewritten] = chain_from(
        [("eligibility.check", None, {"edited": 1})], first_seq=seq, prev_hash=target.prev_hash
    )
    entries = list(log.entries)
    entries[seq - 1] = rewritten
    # Nothing in entry seq itself is wrong; the evidence is the next entry's link, or a
    # checkpoint signed right at it.
    expected = (
        (seq, Problem.CHECKPOINT_MISMATCH)
        if any(c.size == seq for c in log.checkpoints)
        else (seq + 1, Problem.BROKEN_LINK)
    )
    assert caught(verify(entries, log.checkpoints)) == expected


@given(checkpointed_logs(), st.data())
def test_rewriting_the_whole_tail_after_an_edit_is_caught_by_the_next_checkpoint(
    log: Log, data: st.DataObject
) -> None:
    seq = data.draw(st.integers(1, log.covered), label="seq")
    kept = log.entries[: seq - 1]
    records: list[Record] = [("eligibility.check", None, {"outcome": "ineligible"})]
    for entry in log.entries[seq:]:
        body = json.loads(entry.body)
        records.append((body["kind"], body["subject"], body["payload"]))
    prev_hash = kept[-1].entry_hash if kept else GENESIS_HASH
    entries = kept + chain_from(records, first_seq=seq, prev_hash=prev_hash)
    catching = min(c.size for c in log.checkpoints if c.size >= seq)
    assert caught(verify(entries, log.checkpoints)) == (catching, Problem.CHECKPOINT_MISMATCH)


@given(checkpointed_logs(), st.data(), st.binary(min_size=32, max_size=32))
def test_a_checkpoint_with_a_forged_signature_is_bad_signature_at_its_size(
    log: Log, data: st.DataObject, forged_signature: bytes
) -> None:
    index = data.draw(st.integers(0, len(log.checkpoints) - 1), label="index")
    checkpoints = list(log.checkpoints)
    checkpoints[index] = replace(checkpoints[index], signature=forged_signature)
    size = checkpoints[index].size
    assert caught(verify(log.entries, checkpoints)) == (size, Problem.BAD_SIGNATURE)


@given(checkpointed_logs(), st.data())
def test_a_signed_checkpoint_with_the_wrong_head_is_checkpoint_mismatch_at_its_size(
    log: Log, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(log.checkpoints) - 1), label="index")
    original = log.checkpoints[index]
    wrong_head = data.draw(
        st.text("0123456789abcdef", min_size=64, max_size=64).filter(
            lambda h: h != original.head_hash
        )
    )
    checkpoints = list(log.checkpoints)
    checkpoints[index] = signed_checkpoint(original.size, wrong_head)
    assert caught(verify(log.entries, checkpoints)) == (original.size, Problem.CHECKPOINT_MISMATCH)


@given(logs())
def test_a_forged_checkpoint_beyond_the_chain_is_bad_signature_not_truncation(log: Log) -> None:
    claimed = log.size + 5
    forged = Checkpoint(claimed, "ab" * 32, BASE_TIME, FAKE_KEY_ID, b"\x00" * 32)
    assert caught(verify(log.entries, [*log.checkpoints, forged])) == (
        claimed,
        Problem.BAD_SIGNATURE,
    )


# -- pseudonyms and signing keys --------------------------------------------------------------


def test_pseudonym_is_v1_and_hex_hmac_of_the_iin_and_never_contains_it() -> None:
    key = b"audit-hmac-key"
    subject = pseudonymise("900101300126", key=key)
    assert subject == "v1:" + hmac.new(key, b"900101300126", hashlib.sha256).hexdigest()
    assert "900101300126" not in subject
    assert subject != pseudonymise("900101300126", key=b"another key")
    assert subject != pseudonymise("791028302728", key=key)


def test_pseudonym_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError, match="empty"):
        pseudonymise("900101300126", key=b"")


def test_checkpoint_signature_verifies_only_for_the_same_key_and_message() -> None:
    signer = CheckpointSigner(generate_signing_key())
    verifier = CheckpointVerifier(signer.public_key_pem)
    stranger = CheckpointVerifier(CheckpointSigner(generate_signing_key()).public_key_pem)
    signature = signer.sign(b"message")
    assert verifier.verify(b"message", signature)
    assert not verifier.verify(b"massage", signature)
    assert not verifier.verify(b"message", signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not stranger.verify(b"message", signature)


def test_key_id_is_the_start_of_the_sha256_of_the_raw_public_key() -> None:
    signer = CheckpointSigner(generate_signing_key())
    public = serialization.load_pem_public_key(signer.public_key_pem.encode())
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert signer.key_id == hashlib.sha256(raw).hexdigest()[:16]
    assert CheckpointVerifier(signer.public_key_pem).key_id == signer.key_id


def test_keys_other_than_ed25519_are_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    private_pem = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        ec_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(ValueError, match="Ed25519"):
        CheckpointSigner(private_pem)
    with pytest.raises(ValueError, match="Ed25519"):
        CheckpointVerifier(public_pem)
