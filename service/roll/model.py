"""Values passed between the compile's main process and its workers (all picklable)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from service.domain.model import Election, Precinct
from service.usecases.ports import Standing

DECISION_KIND = "roll.decision"
START_KIND = "roll.start"
COMPLETE_KIND = "roll.complete"


class ListFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"


@dataclass(frozen=True)
class DeciderSetup:
    """Everything a worker needs to decide chunks on its own."""

    run_id: str
    election: Election
    precincts: tuple[Precinct, ...]
    # What comes before registrations (SPEC §4), read once per run, by voter pseudonym.
    standing: dict[str, Standing]
    hmac_key: bytes
    parts_dir: Path
    registry_url: str
    addresses_url: str
    deadline_seconds: float
    attempts: int
    backoff_seconds: float
    batch_size: int
    concurrency: int


@dataclass(frozen=True, slots=True)
class ChunkTask:
    """Decide these IINs; their audit entries will take seqs from ``first_seq`` on."""

    chunk_no: int
    iins: list[str]
    cursor: str | None
    first_seq: int


@dataclass(slots=True)
class ChunkCounts:
    """Codes only: outcome, reasons, basis of the listed, next steps. Summed over chunks."""

    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    basis: Counter[str] = field(default_factory=Counter)
    next_steps: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, dict[str, int]]:
        return {
            "outcomes": dict(sorted(self.outcomes.items())),
            "reasons": dict(sorted(self.reasons.items())),
            "basis": dict(sorted(self.basis.items())),
            "next_steps": dict(sorted(self.next_steps.items())),
        }

    def add(self, other: dict[str, dict[str, int]]) -> None:
        self.outcomes.update(other.get("outcomes", {}))
        self.reasons.update(other.get("reasons", {}))
        self.basis.update(other.get("basis", {}))
        self.next_steps.update(other.get("next_steps", {}))


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """A decided chunk: its audit entries rendered for seqs ``first_seq`` on, its part file."""

    chunk_no: int
    cursor: str | None
    first_seq: int
    recorded_at: dt.datetime
    subjects: list[str]
    bodies: list[str]
    counts: dict[str, dict[str, int]]
    part_sha256: str

    @property
    def persons(self) -> int:
        return len(self.subjects)
