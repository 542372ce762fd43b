"""An observer's cosigner (``voterctl witness cosign``, SPEC §17): fetch the newest checkpoint,
check it against the last one this witness cosigned, cosign and post it back.

The state directory is the witness's memory of the log:
- ``log.vkey``: the log's verifier key, pinned at the first run (``--log-key``); a later run
  given another key is refused;
- ``checkpoint``: the last checkpoint note this witness cosigned, written before posting
  (what the witness signed is what it remembers, whether or not the post arrived);
- ``report-<UTC time>.txt``: one per refusal, a fork or a rollback, with both signed heads.

Needs nothing of the service but HTTP and the witness role's token; trusts nothing it serves
that the log's key and the consistency proof do not vouch for.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from service.audit.note import (
    Checkpoint,
    MalformedNote,
    Note,
    NoteRejected,
    NoteSigner,
    VerifierKey,
    open_checkpoint,
    parse_note,
)
from service.audit.witness import Verdict, WitnessRefusal, decide, needs_proof

LOG_KEY_FILE = "log.vkey"
STATE_FILE = "checkpoint"


class CosignerError(RuntimeError):
    """Nothing was cosigned: the message says why (not a fork: see ``Refused``)."""


@dataclass(frozen=True)
class Cosigned:
    size: int
    verdict: Verdict
    cosigned_by: tuple[str, ...]
    witnessed: bool


@dataclass(frozen=True)
class Refused:
    """The log showed a fork or a rollback; ``report`` is where both heads were written."""

    kind: str
    reason: str
    report: Path


def _write_private(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)


def pinned_log_key(state: Path, given: str | None) -> VerifierKey:
    """The log's key: pinned in the state at the first run, the same on every later one."""
    pinned_file = state / LOG_KEY_FILE
    pinned = pinned_file.read_text("ascii").strip() if pinned_file.exists() else None
    if given is None and pinned is None:
        raise CosignerError("the first run needs --log-key (the log's vkey: voterctl audit vkey)")
    if given is not None and pinned is not None and given.strip() != pinned:
        raise CosignerError(f"--log-key is not the key pinned in {pinned_file}")
    text = pinned or (given or "").strip()
    try:
        key = VerifierKey.parse(text)
    except MalformedNote as exc:
        raise CosignerError(f"not a vkey: {exc}") from None
    if pinned is None:
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_private(pinned_file, text + "\n")
    return key


def _get(client: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise CosignerError(f"cannot reach the log: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise CosignerError(f"GET {path} answered {response.status_code}")
    body: dict[str, Any] = response.json()
    return body


def _opened(note: str, key: VerifierKey) -> Checkpoint:
    try:
        checkpoint, _ = open_checkpoint(note, origin=key.name, log_key=key)
    except (NoteRejected, MalformedNote) as exc:
        raise CosignerError(f"the checkpoint does not verify with the log's key: {exc}") from None
    return checkpoint


def cosign_once(
    client: httpx.Client, *, signer: NoteSigner, state: Path, log_key: VerifierKey
) -> Cosigned | Refused:
    """One round: fetch, check, remember, post. ``client`` has the base URL and the token."""
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    served = _get(client, "/v1/audit/checkpoint").get("note")
    if not isinstance(served, str):
        raise CosignerError("the log's newest checkpoint has no signed note yet")
    shown = _opened(served, log_key)
    state_file = state / STATE_FILE
    last_note = state_file.read_text("utf-8") if state_file.exists() else None
    last = _opened(last_note, log_key) if last_note is not None else None
    proof: list[bytes] = []
    need = needs_proof(last, shown)
    if need is not None:
        answer = _get(client, "/v1/audit/proofs/consistency", first=need.first, second=need.second)
        try:
            proof = [bytes.fromhex(node) for node in answer["proof"]]
        except (KeyError, TypeError, ValueError):
            raise CosignerError("the consistency proof is not a list of hex hashes") from None
    try:
        verdict = decide(last, shown, proof)
    except WitnessRefusal as refusal:
        assert last_note is not None
        at = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        report = state / f"report-{at}.txt"
        _write_private(report, refusal.report(last_note=last_note, shown_note=served))
        return Refused(kind=refusal.kind, reason=refusal.reason, report=report)
    # Post the log's own signature and ours: other witnesses' lines are theirs to post.
    parsed = parse_note(served)
    own = tuple(
        s for s in parsed.signatures if (s.name, s.key_id) == (log_key.name, log_key.key_id)
    )
    cosigned = Note(parsed.text, (*own, signer.sign(parsed.text))).format()
    _write_private(state_file, cosigned)
    try:
        response = client.post("/v1/audit/cosignatures", json={"note": cosigned})
    except httpx.HTTPError as exc:
        raise CosignerError(f"cannot post the cosignature: {type(exc).__name__}") from None
    if response.status_code != 200:
        code = response.json().get("code") if response.content else None
        raise CosignerError(f"the log refused the cosignature: {response.status_code} {code}")
    body = response.json()
    return Cosigned(
        size=shown.size,
        verdict=verdict,
        cosigned_by=tuple(body["cosigned_by"]),
        witnessed=bool(body["witnessed"]),
    )
