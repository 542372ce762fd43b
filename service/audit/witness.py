"""What a witness decides before it cosigns a checkpoint (SPEC §17): never a fork, never a
step back.

A witness keeps the last checkpoint it cosigned for a log. Shown a newer one, it cosigns only
if the new tree extends the old (an RFC 9162 consistency proof between the two sizes); shown
the same size with another root, or a smaller size, it refuses and reports both heads: a log
that shows one history to this witness and another to someone else, or rewinds, is caught by
the first witness that saw the other head. Pure: the caller fetches, stores and signs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from service.audit.merkle import verify_consistency
from service.audit.note import Checkpoint


class Verdict(StrEnum):
    COSIGN = "cosign"  # the new checkpoint extends the last one cosigned (or is the first)
    ALREADY = "already"  # the very checkpoint last cosigned: cosigning again changes nothing


class WitnessRefusal(Exception):
    """The log showed this witness something no honest append-only log can show."""

    kind = "refused"

    def __init__(self, reason: str, *, last: Checkpoint, shown: Checkpoint) -> None:
        super().__init__(reason)
        self.reason = reason
        self.last = last
        self.shown = shown

    def report(self, *, last_note: str, shown_note: str) -> str:
        """A report an observer can publish: what was refused, and both signed heads."""
        return (
            f"{self.kind.upper()} of log {self.shown.origin}\n"
            f"{self.reason}\n\n"
            f"last cosigned checkpoint (size {self.last.size}):\n{last_note}\n"
            f"checkpoint shown now (size {self.shown.size}):\n{shown_note}"
        )


class ForkDetected(WitnessRefusal):
    kind = "fork"


class RollbackDetected(WitnessRefusal):
    kind = "rollback"


@dataclass(frozen=True)
class ConsistencyNeed:
    """The proof the witness must be shown before deciding: from ``first`` to ``second``."""

    first: int
    second: int


def needs_proof(last: Checkpoint | None, shown: Checkpoint) -> ConsistencyNeed | None:
    """The consistency proof to fetch, or None when the decision needs none."""
    if last is None or last.size == 0 or shown.size <= last.size:
        return None
    return ConsistencyNeed(first=last.size, second=shown.size)


def decide(last: Checkpoint | None, shown: Checkpoint, proof: Sequence[bytes] = ()) -> Verdict:
    """Whether to cosign ``shown`` after ``last`` (None: the first checkpoint this witness
    sees of the log). Raises ``ForkDetected`` or ``RollbackDetected``."""
    if last is None:
        return Verdict.COSIGN
    if shown.origin != last.origin:
        raise ValueError(f"a checkpoint of log {shown.origin}, not {last.origin}")
    if shown.size < last.size:
        raise RollbackDetected(
            f"the log shows size {shown.size} after this witness cosigned size {last.size}",
            last=last,
            shown=shown,
        )
    if shown.size == last.size:
        if shown.root_hash != last.root_hash:
            raise ForkDetected(f"two different roots for size {shown.size}", last=last, shown=shown)
        return Verdict.ALREADY
    if last.size == 0:
        return Verdict.COSIGN
    if not verify_consistency(
        first=last.size,
        second=shown.size,
        first_root=last.root_hash,
        second_root=shown.root_hash,
        proof=proof,
    ):
        raise ForkDetected(
            f"the tree of size {shown.size} does not extend the one of size {last.size} "
            "cosigned before (the consistency proof fails)",
            last=last,
            shown=shown,
        )
    return Verdict.COSIGN
